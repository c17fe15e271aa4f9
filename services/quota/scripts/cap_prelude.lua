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

-- Does one window holding `at` already hold `most` of the `total` sent messages? The
-- busiest such window starts at `at` or at a message in (at - window, at].
local function window_full(sent, total, at, window, most)
  -- No window holds more than all of them: most customers of a fan-out stop here.
  if total < most then
    return false
  end
  -- Every message such a window can hold lies in (at - window, at + window): read
  -- them once (sorted) and count each window here.
  local near = redis.call('ZRANGEBYSCORE', sent, before(at - window), before(at + window),
    'WITHSCORES')
  local times = {}
  for i = 2, #near, 2 do
    times[#times + 1] = tonumber(near[i])
  end
  local function held(start)
    local n = 0
    for _, t in ipairs(times) do
      if t >= start and t < start + window then
        n = n + 1
      end
    end
    return n
  end
  local busiest = held(at)
  for _, t in ipairs(times) do
    if t <= at then
      busiest = math.max(busiest, held(t))
    end
  end
  return busiest >= most
end

-- sent: zset message -> ms sent; refused: hash message -> ms asked.
local function cap_decide(sent, refused, message, at, window, most, now)
  -- A customer never messaged (most of a fan-out) skips the reads of an empty set.
  local total = redis.call('ZCARD', sent)
  if total > 0 and redis.call('ZSCORE', sent, message) then
    return 'A'
  end
  if redis.call('HEXISTS', refused, message) == 1 then
    return 'C'
  end
  local keep_until = math.max(at, now) + 2 * window
  if window_full(sent, total, at, window, most) then
    redis.call('HSET', refused, message, string.format('%d', at))
    keep(refused, keep_until)
    return 'c'
  end
  redis.call('ZADD', sent, string.format('%d', at), message)
  if total == 0 then
    -- A new set: nothing to trim, no expiry to keep.
    redis.call('PEXPIREAT', sent, string.format('%d', keep_until))
  else
    redis.call('ZREMRANGEBYSCORE', sent, '-inf', before(at - 2 * window))
    keep(sent, keep_until)
  end
  return 'a'
end
