-- Clear the pending marks of ledger facts that Kafka acknowledged, provided the
-- seller's slot still has the generation it had when they were taken. Otherwise
-- a rebuild ran in between and may have missed them: answer 0, and the caller
-- runs heal.lua instead.
-- KEYS[1] the generation marker of the seller's slot, KEYS[2] the seller's pending hash.
-- ARGV[1] the generation seen when the facts were taken; then the pending fields.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[2], unpack(ARGV, 2))
return 1
