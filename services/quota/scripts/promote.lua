-- End of a rebuild: the slot counts as restored only if it kept the rebuild's
-- `restoring` mark throughout. A slot that lost data meanwhile stays unmarked,
-- so the next request rebuilds again rather than trusting half-written state.
-- KEYS[1] the slot's `restoring` mark, KEYS[2] its generation marker. ARGV[1] generation.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[1])
end
redis.call('DEL', KEYS[1])
return 1
