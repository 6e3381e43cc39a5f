-- Deletes entries the database has taken from a room's carry stream, and the
-- stream itself once empty, in one step: a message stored meanwhile either
-- comes before (and the stream is not empty) or makes a new stream.
--
-- KEYS: 1 the carry stream
-- ARGV: the ids of the entries taken
-- Returns the entries left.
redis.call('XDEL', KEYS[1], unpack(ARGV))
local left = redis.call('XLEN', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1]) end
return left
