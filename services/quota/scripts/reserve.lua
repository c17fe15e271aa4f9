-- Take one unit of the seller's week for a plan unless the limit is reached;
-- idempotent per plan. ARGV: plan_id, week label, counter keys expire at (ms), now
-- (RFC 3339); for a campaign's counter also its limit, campaign_id and end (RFC 3339).
local plan_id, week, expire_at, at = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local campaign_limit, campaign_id, ends_at = ARGV[5], ARGV[6], ARGV[7]
local limit, generation = restored_limit(campaign_limit)
if not limit then
  return NEEDS_REBUILD
end
local state = redis.call('HGET', KEYS[3], 'plan:' .. plan_id)
if state == 'released' then
  return answer('already_released', limit, generation, plan_id)
elseif state then
  return answer('already_reserved', limit, generation, plan_id)
end
if used_of_week() >= limit then
  return answer('quota_exhausted', limit, generation, plan_id)
end
local used = redis.call('HINCRBY', KEYS[3], 'used', 1)
redis.call('HSET', KEYS[3], 'plan:' .. plan_id, 'reserved')
redis.call('PEXPIREAT', KEYS[3], expire_at)
return taken('reserved', plan_id, week, limit, generation, used, at, campaign_id, ends_at)
