-- may_send for many messages of one seller, decided in order (cap_prelude.lua): a
-- customer asked twice sees the first answer's write. Answers one character per message.
-- KEYS[2i - 1], KEYS[2i]: sent and refused keys of message i's customer.
-- ARGV: at (ms), window (ms), max_messages, now (ms), then one message_id per message.
local at, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local most, now = tonumber(ARGV[3]), tonumber(ARGV[4])
-- A customer with neither key (most of a fan-out) is allowed in three calls, with the
-- page's score and expiry formatted once: nothing to read, trim or refuse.
local at_ms = string.format('%d', at)
local keep_until = string.format('%d', math.max(at, now) + 2 * window)
local answers = {}
for i = 1, #ARGV - 4 do
  local sent, refused = KEYS[2 * i - 1], KEYS[2 * i]
  if most > 0 and redis.call('EXISTS', sent, refused) == 0 then
    redis.call('ZADD', sent, at_ms, ARGV[4 + i])
    redis.call('PEXPIREAT', sent, keep_until)
    answers[i] = 'a'
  else
    answers[i] = cap_decide(sent, refused, ARGV[4 + i], at, window, most, now)
  end
end
return table.concat(answers)
