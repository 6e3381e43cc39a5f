-- Takes or renews a room's carry lease, so that one node at a time takes a
-- room's carry stream into the database (a node that dies lets it lapse, and
-- another takes over), and reads the stream for the node that holds it: one
-- step per room, pipelined for all the rooms of a pass.
--
-- KEYS: 1 the lease, 2 the room's carry stream
-- ARGV: 1 this node, 2 the lease's length (ms), 3 entries read at most
-- Returns {1, the first entries, in mid order} when this node holds the
-- lease now, else {0, how many entries the stream holds}.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, redis.call('XLEN', KEYS[2])} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {1, redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', ARGV[3])}
