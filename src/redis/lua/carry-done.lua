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
-- The room's carried changes (store-and-publish.lua's KEYS[10]) that the
-- database now holds are marked carried, and forgotten LINGER ms later: a
-- search or a page that read the database just before the commit asks after
-- it, and must still hear of the change.
--
-- KEYS: for each room, 1 its carry stream, 2 the carry index set it is noted
--       in (on one Redis; in a Cluster that set is on another shard, and this
--       is the stream again), 3 its carried changes
-- ARGV: for each room, 1 the id of the last entry taken, 2 the room, to take
--       out of the index once empty, or '' (a Cluster: the node does it)
-- Returns the entries left in each stream.
local LINGER = 10000
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local out = {}
for i = 1, #KEYS, 3 do
  local a = (i - 1) / 3 * 2 + 1
  local ms, seq = string.match(ARGV[a], '^(%d+)-(%d+)$')
  redis.call('XTRIM', KEYS[i], 'MINID', ms .. '-' .. (tonumber(seq) + 1))
  local left = redis.call('XLEN', KEYS[i])
  if left == 0 then
    redis.call('DEL', KEYS[i])
    if ARGV[a + 1] ~= '' then redis.call('SREM', KEYS[i + 1], ARGV[a + 1]) end
  end
  local changes = redis.call('HGETALL', KEYS[i + 2])
  if #changes > 0 then
    local open = false
    for f = 1, #changes, 2 do
      local kind, mid, ts, carried, frame = string.match(changes[f + 1], '^(%a+)\t(%d+)\t(%d+)\t(%d+)\t(.*)$')
      if carried == '0' then
        if tonumber(mid) <= tonumber(ms) then
          redis.call('HSET', KEYS[i + 2], changes[f], table.concat({kind, mid, ts, now, frame}, '\t'))
        else
          open = true
        end
      elseif now - tonumber(carried) > LINGER then
        redis.call('HDEL', KEYS[i + 2], changes[f])
      end
    end
    -- What is all carried goes by itself, should the room fall quiet.
    if not open then redis.call('PEXPIRE', KEYS[i + 2], LINGER) end
  end
  out[#out + 1] = left
end
return out
