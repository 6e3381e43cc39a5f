-- Takes or renews rooms' carry leases, so that one node at a time takes a
-- room's carry stream into the database (a node that dies lets it lapse, and
-- another takes over): one step for the rooms of a pass (all of them at once
-- on one Redis; one room a call in a Cluster, where the rooms are in other
-- slots). The node then reads the streams it holds with plain XRANGEs: read
-- here, every entry was turned into Lua values and back, which cost Redis
-- more than the read itself.
--
-- KEYS: for each room, 1 the lease, 2 the room's carry stream
-- ARGV: 1 this node, 2 the lease's length (ms)
-- Returns, for each room in turn, {1} when this node holds the lease now,
-- else {0, how many entries the stream holds}.
local out = {}
for i = 1, #KEYS, 2 do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= ARGV[1] then
    out[#out + 1] = {0, redis.call('XLEN', KEYS[i + 1])}
  else
    redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
    out[#out + 1] = {1}
  end
end
return out
