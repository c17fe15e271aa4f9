-- The frequency cap's rule, shared by may_send and may_send_many (prepended to each).
-- At most `most` messages in any window of `window` ms; each message is decided once.
-- Same rule as services/quota/domain/frequency_cap.py `decide`.
--
-- A decision is one character, so a page of them is one short string for the client:
-- a allowed, A allowed before (repeated), c capped, C capped before (repeated).

local function before(ms)
  return '(' .. string.format('%d', ms)
end

-- Decisions are kept two windows, so a late retry still finds its answer.
local function keep(key, keep_until)
  if redis.call('PEXPIRETIME', key) < keep_until then
    redis.call('PEXPIREAT', key, string.format('%d', keep_until))
  end
end

-- Does one window holding `at` already hold `most` sent messages? The busiest such
-- window starts at `at` or at a message in (at - window, at]. No window holds more
-- than all of them, so a customer with fewer than `most` needs no window counted
-- (most customers of a large fan-out).
local function window_full(sent, at, window, most)
  if redis.call('ZCARD', sent) < most then
    return false
  end
  local busiest = redis.call('ZCOUNT', sent, at, before(at + window))
  local starts = redis.call('ZRANGEBYSCORE', sent, before(at - window), at, 'WITHSCORES')
  for i = 2, #starts, 2 do
    local start = tonumber(starts[i])
    busiest = math.max(busiest, redis.call('ZCOUNT', sent, start, before(start + window)))
  end
  return busiest >= most
end

-- sent: zset message -> ms sent; refused: hash message -> ms asked.
local function cap_decide(sent, refused, message, at, window, most, now)
  if redis.call('ZSCORE', sent, message) then
    return 'A'
  end
  if redis.call('HEXISTS', refused, message) == 1 then
    return 'C'
  end
  local keep_until = math.max(at, now) + 2 * window
  if window_full(sent, at, window, most) then
    redis.call('HSET', refused, message, string.format('%d', at))
    keep(refused, keep_until)
    return 'c'
  end
  redis.call('ZADD', sent, string.format('%d', at), message)
  redis.call('ZREMRANGEBYSCORE', sent, '-inf', before(at - 2 * window))
  keep(sent, keep_until)
  return 'a'
end
