-- Shared by reserve, release, dispatch and count (prepended to each).
-- KEYS[1] the generation marker of the seller's slot (absent: Redis lost data),
-- KEYS[2] the seller hash (the limit of its status),
-- KEYS[3] the counter hash, a week's or a campaign's (`used`, and `plan:<id>` ->
--         reserved | dispatched | released),
-- KEYS[4] the seller's pending ledger facts (`<fact>:<plan_id>` -> JSON).

-- The seller's slot generation and the limit of its status (or `campaign_limit`,
-- a campaign's plans_per_seller, for a campaign's counter), or nil when the
-- slot's data was lost and not yet rebuilt from the topics: then nothing may be
-- answered. The generation tells the caller later whether a rebuild ran since.
local function restored_limit(campaign_limit)
  local generation = redis.call('GET', KEYS[1])
  if not generation then
    return nil
  end
  if campaign_limit and campaign_limit ~= '' then
    return tonumber(campaign_limit), generation
  end
  return tonumber(redis.call('HGET', KEYS[2], 'limit')) or 0, generation
end

local function used_of_week()
  return tonumber(redis.call('HGET', KEYS[3], 'used')) or 0
end

-- An answer is one JSON object (one string is far cheaper for the client to read
-- than an array): outcome, limit, used, and the plan's ledger facts not yet
-- confirmed, which the caller publishes before answering (so a retry after a
-- crash re-publishes them).
local NEEDS_REBUILD = cjson.encode({outcome = 'needs_rebuild'})

local function answer(outcome, limit, generation, plan_id)
  local reply = {outcome = outcome, limit = limit, used = used_of_week(), generation = generation}
  if plan_id then
    local pending = redis.call('HMGET', KEYS[4], 'reserved:' .. plan_id, 'released:' .. plan_id)
    reply.reserved = pending[1] and cjson.decode(pending[1]) or nil
    reply.released = pending[2] and cjson.decode(pending[2]) or nil
  end
  return cjson.encode(reply)
end

-- Why a plan in `state` can be neither released nor dispatched (nil: it can).
local function not_reserved(state)
  if not state then
    return 'not_reserved'
  elseif state == 'released' then
    return 'already_released'
  elseif state == 'dispatched' then
    return 'already_dispatched'
  end
  return nil
end

-- Record the fact just taken as pending, and answer with it: the caller publishes
-- it to the ledger before answering, and the mark stays until it is confirmed.
-- A campaign's fact also records its campaign (nil for a week's: left out).
local function taken(fact, plan_id, week, limit, generation, used, at, campaign_id, ends_at)
  local entry = {week = week, limit = limit, used_after = used, at = at}
  if campaign_id and campaign_id ~= '' then
    entry.campaign_id = campaign_id
    entry.campaign_ends_at = ends_at
  end
  redis.call('HSET', KEYS[4], fact .. ':' .. plan_id, cjson.encode(entry))
  local reply = {outcome = fact, limit = limit, used = used, generation = generation}
  reply[fact] = entry
  return cjson.encode(reply)
end
