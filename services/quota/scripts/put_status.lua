-- Project a seller's status, unless a later record of crm.seller-status is
-- already projected (a rebuild and the live consumer may write the same seller).
-- KEYS[1] seller hash. ARGV[1] the record's offset; then field, value pairs.
local stored = tonumber(redis.call('HGET', KEYS[1], 'status_offset'))
if stored and stored >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status_offset', ARGV[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
