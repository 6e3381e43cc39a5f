-- Deletes entries the database has taken from a room's carry stream, and the
-- stream itself once empty, in one step: a message stored meanwhile either
-- comes before (and the stream is not empty) or makes a new stream.
-- The node took the stream's first entries, in order, and entries are only
-- ever appended with higher ids, so what it took is everything up to the
-- last id it took.
--
-- KEYS: 1 the carry stream
-- ARGV: 1 the id of the last entry taken
-- Returns the entries left.
local ms, seq = string.match(ARGV[1], '^(%d+)-(%d+)$')
redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
local left = redis.call('XLEN', KEYS[1])
if left == 0 then redis.call('DEL', KEYS[1]) end
return left
