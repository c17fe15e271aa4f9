-- Mark a reserved plan dispatched: from now on its unit can no longer be released.
-- ARGV: plan_id; for a campaign's counter also its limit.
local plan_id = ARGV[1]
local limit, generation = restored_limit(ARGV[2])
if not limit then
  return NEEDS_REBUILD
end
local refused = not_reserved(redis.call('HGET', KEYS[3], 'plan:' .. plan_id))
if refused then
  return answer(refused, limit, generation, plan_id)
end
redis.call('HSET', KEYS[3], 'plan:' .. plan_id, 'dispatched')
return answer('dispatched', limit, generation, plan_id)
