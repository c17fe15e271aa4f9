-- The limit and the units used of a seller's week (or campaign), read together.
-- ARGV: for a campaign's counter, its limit.
local limit, generation = restored_limit(ARGV[1])
if not limit then
  return NEEDS_REBUILD
end
return answer('counted', limit, generation, nil)
