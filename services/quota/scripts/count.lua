-- The limit and the units used of a seller's week, read together.
local limit, generation = restored_limit()
if not limit then
  return NEEDS_REBUILD
end
return answer('counted', limit, generation, nil)
