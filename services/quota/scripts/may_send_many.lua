-- may_send for many messages of one seller, decided in order (cap_prelude.lua): a
-- customer asked twice sees the first answer's write. Answers one character per message.
-- KEYS[2i - 1], KEYS[2i]: sent and refused keys of message i's customer.
-- ARGV: at (ms), window (ms), max_messages, now (ms), then one message_id per message.
local at, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local most, now = tonumber(ARGV[3]), tonumber(ARGV[4])
local answers = {}
for i = 1, #ARGV - 4 do
  answers[i] = cap_decide(KEYS[2 * i - 1], KEYS[2 * i], ARGV[4 + i], at, window, most, now)
end
return table.concat(answers)
