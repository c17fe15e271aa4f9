-- May this message go from the seller to the customer at this time? (cap_prelude.lua)
-- KEYS[1] sent messages (zset, score = ms), KEYS[2] refused messages (hash).
-- ARGV: message_id, at (ms), window (ms), max_messages, now (ms).
return cap_decide(
  KEYS[1], KEYS[2], ARGV[1],
  tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
