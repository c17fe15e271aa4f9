-- Clear the pending marks of ledger facts that Kafka acknowledged, when a rebuild
-- may have run since they were taken (confirm.lua said so), or for the reconciler.
-- KEYS[1] the generation marker of the seller's slot, KEYS[2] the seller's pending
-- hash, KEYS[2 + i] the week hash of fact i.
-- ARGV: per fact, fact (reserved | released), plan_id, week keys expire at (ms).
--
-- A fact acknowledged in the ledger is also made true in Redis: when Redis lost
-- data and a rebuild read the ledger just before this fact landed, the week
-- would otherwise miss it until the next rebuild. Applying a fact twice changes
-- nothing (the same rule as services/quota/domain/ledger_facts.py `with_fact`).
local restored = redis.call('EXISTS', KEYS[1]) == 1
for i = 1, #KEYS - 2 do
  local fact, plan_id, expire_at = ARGV[3 * i - 2], ARGV[3 * i - 1], ARGV[3 * i]
  local week, field = KEYS[2 + i], 'plan:' .. plan_id
  redis.call('HDEL', KEYS[2], fact .. ':' .. plan_id)
  if restored then
    local state = redis.call('HGET', week, field)
    if fact == 'reserved' and not state then
      redis.call('HSET', week, field, 'reserved')
      redis.call('HINCRBY', week, 'used', 1)
      redis.call('PEXPIREAT', week, expire_at)
    elseif fact == 'released' and (not state or state == 'reserved') then
      redis.call('HSET', week, field, 'released')
      if state then
        redis.call('HINCRBY', week, 'used', -1)
      end
      redis.call('PEXPIREAT', week, expire_at)
    end
  end
end
return #KEYS - 2
