-- Write a seller's weeks as the ledger has them, unless the seller's slot kept its
-- generation marker: then its Redis state is whole and newer than anything a
-- rebuild read, and overwriting it could drop a reservation.
-- KEYS[1] the generation marker of the seller's slot, KEYS[1 + i] week hash i.
-- ARGV per week: expire at (ms), used, n, and n pairs plan_id, state.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local at = 1
for i = 2, #KEYS do
  local week = KEYS[i]
  local expire_at, used, plans = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  at = at + 3
  redis.call('DEL', week)
  redis.call('HSET', week, 'used', used)
  for _ = 1, plans do
    redis.call('HSET', week, 'plan:' .. ARGV[at], ARGV[at + 1])
    at = at + 2
  end
  redis.call('PEXPIREAT', week, expire_at)
end
return 1
