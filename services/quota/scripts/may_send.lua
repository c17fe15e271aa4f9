-- May this message go from the seller to the customer at this time? At most
-- `max_messages` in any window of `window_ms`; each message is decided once.
-- KEYS[1] sent messages (zset, score = ms), KEYS[2] refused messages (hash).
-- ARGV: message_id, at (ms), window (ms), max_messages, now (ms).
-- Same rule as services/quota/domain/frequency_cap.py `decide`.
local message, at = ARGV[1], tonumber(ARGV[2])
local window, most, now = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])

local function before(ms)
  return '(' .. string.format('%d', ms)
end

if redis.call('ZSCORE', KEYS[1], message) then
  return cjson.encode({outcome = 'allowed', repeated = true})
end
if redis.call('HEXISTS', KEYS[2], message) == 1 then
  return cjson.encode({outcome = 'frequency_capped', repeated = true})
end

-- The busiest window holding `at` starts at `at` or at a message in (at - window, at].
local busiest = redis.call('ZCOUNT', KEYS[1], at, before(at + window))
local starts = redis.call('ZRANGEBYSCORE', KEYS[1], before(at - window), at, 'WITHSCORES')
for i = 2, #starts, 2 do
  local start = tonumber(starts[i])
  busiest = math.max(busiest, redis.call('ZCOUNT', KEYS[1], start, before(start + window)))
end

-- Decisions are kept two windows, so a late retry still finds its answer.
local keep_until = math.max(at, now) + 2 * window
local function keep(key)
  if redis.call('PEXPIRETIME', key) < keep_until then
    redis.call('PEXPIREAT', key, string.format('%d', keep_until))
  end
end

if busiest >= most then
  redis.call('HSET', KEYS[2], message, string.format('%d', at))
  keep(KEYS[2])
  return cjson.encode({outcome = 'frequency_capped', repeated = false})
end
redis.call('ZADD', KEYS[1], string.format('%d', at), message)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', before(at - 2 * window))
keep(KEYS[1])
return cjson.encode({outcome = 'allowed', repeated = false})
