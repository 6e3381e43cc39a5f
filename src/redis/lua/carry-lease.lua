-- Takes or renews a room's carry lease, so that one node at a time takes a
-- room's carry stream into the database; a node that dies lets it lapse, and
-- another takes over.
--
-- KEYS: 1 the lease
-- ARGV: 1 this node, 2 the lease's length (ms)
-- Returns 1 when this node holds the lease now, else 0.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
