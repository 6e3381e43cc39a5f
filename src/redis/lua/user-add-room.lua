-- A user is kept in one more room, unless they are kept in as many as they
-- may be: counted here, in one step, so that connections on several nodes
-- joining at once cannot pass the cap together.
--
-- KEYS: 1 the user's rooms
-- ARGV: 1 room, 2 most rooms (0 = no limit), 3 seconds the set is kept
-- Returns 2 added, 1 kept there already, 0 refused: as many rooms as allowed
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 1
end
local most = tonumber(ARGV[2])
if most > 0 and redis.call('SCARD', KEYS[1]) >= most then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 2
