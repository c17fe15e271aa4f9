-- Shared by reserve, release, dispatch and count (prepended to each).
-- KEYS[1] the generation marker of the seller's slot (absent: Redis lost data),
-- KEYS[2] the seller hash (the limit of its status),
-- KEYS[3] the week hash (`used`, and `plan:<id>` -> reserved | dispatched | released),
-- KEYS[4] the seller's pending ledger facts (`<fact>:<plan_id>` -> JSON).

-- The limit of the seller's status, or nil when the slot's data was lost and
-- not yet rebuilt from the topics: then nothing may be answered.
local function restored_limit()
  if redis.call('EXISTS', KEYS[1]) == 0 then
    return nil
  end
  return tonumber(redis.call('HGET', KEYS[2], 'limit')) or 0
end

local function used_of_week()
  return tonumber(redis.call('HGET', KEYS[3], 'used')) or 0
end

-- Every answer carries the plan's facts not yet confirmed in the ledger, so the
-- caller publishes them before answering (a retry after a crash re-publishes).
local function answer(outcome, limit, plan_id)
  local pending = redis.call('HMGET', KEYS[4], 'reserved:' .. plan_id, 'released:' .. plan_id)
  return {outcome, limit, used_of_week(), pending[1] or '', pending[2] or ''}
end

local function remember_pending(fact, plan_id, week, limit, used_after, at)
  local entry = cjson.encode({week = week, limit = limit, used_after = used_after, at = at})
  redis.call('HSET', KEYS[4], fact .. ':' .. plan_id, entry)
end
