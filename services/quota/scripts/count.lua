-- The limit and the units used of a seller's week, read together.
local limit = restored_limit()
if not limit then
  return {'needs_rebuild'}
end
return {'counted', limit, used_of_week(), '', ''}
