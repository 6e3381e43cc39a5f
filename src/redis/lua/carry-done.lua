-- Deletes entries the database has taken from rooms' carry streams, and each
-- stream itself once empty, in one step: a message stored meanwhile either
-- comes before (and the stream is not empty) or makes a new stream.
-- The node took each stream's first entries, in order, and entries are only
-- ever appended with higher ids, so what it took is everything up to the
-- last id it took. On one Redis, where the script that stores a message
-- notes its room in the carry index in the same step, an emptied room
-- leaves the index here, in the same step too: a message stored after it
-- notes the room again.
--
-- KEYS: for each room, 1 its carry stream, 2 the carry index set it is noted
--       in (on one Redis; in a Cluster that set is on another shard, and this
--       is the stream again)
-- ARGV: for each room, 1 the id of the last entry taken, 2 the room, to take
--       out of the index once empty, or '' (a Cluster: the node does it)
-- Returns the entries left in each stream.
local out = {}
for i = 1, #KEYS, 2 do
  local ms, seq = string.match(ARGV[i], '^(%d+)-(%d+)$')
  redis.call('XTRIM', KEYS[i], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
  local left = redis.call('XLEN', KEYS[i])
  if left == 0 then
    redis.call('DEL', KEYS[i])
    if ARGV[i + 1] ~= '' then redis.call('SREM', KEYS[i + 1], ARGV[i + 1]) end
  end
  out[#out + 1] = left
end
return out
