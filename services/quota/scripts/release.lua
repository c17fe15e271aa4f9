-- Give a plan's unit back, only while it is reserved and not dispatched; idempotent.
-- ARGV: plan_id, week label, now (RFC 3339); for a campaign's counter also its limit,
-- campaign_id and end (RFC 3339).
local plan_id, week, at = ARGV[1], ARGV[2], ARGV[3]
local campaign_limit, campaign_id, ends_at = ARGV[4], ARGV[5], ARGV[6]
local limit, generation = restored_limit(campaign_limit)
if not limit then
  return NEEDS_REBUILD
end
local refused = not_reserved(redis.call('HGET', KEYS[3], 'plan:' .. plan_id))
if refused then
  return answer(refused, limit, generation, plan_id)
end
local used = redis.call('HINCRBY', KEYS[3], 'used', -1)
redis.call('HSET', KEYS[3], 'plan:' .. plan_id, 'released')
return taken('released', plan_id, week, limit, generation, used, at, campaign_id, ends_at)
