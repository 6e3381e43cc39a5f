-- Makes the room hold exactly the node's connections that the node has:
-- after Redis came back (it may have lost data, or missed exits) or after the
-- node's lease lapsed and others took its connections out.
--
-- ARGV: 1 node id, 2 lease ms, 3 key lifetime ms, 4 grace ms,
--       then connection id, user id, name and the name's key of each of the node's connections in the room.
--       The node's users are put back whether or not someone took their name meanwhile: they were in first.
-- Returns {users in the room, then user id, name, connection of each user new to it}
local listed = {}
for i = 5, #ARGV, 4 do listed[ARGV[i]] = true end
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if node_of(all[i]) == ARGV[1] and not listed[all[i]] and remove_conn(all[i], all[i + 1]) == 0 then
    redis.call('ZADD', KEYS[6], now + tonumber(ARGV[4]), all[i + 1])
  end
end
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[1])
local out = {0}
for i = 5, #ARGV, 4 do
  if add_conn(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]) == 1 then
    table.insert(out, ARGV[i + 1])
    table.insert(out, ARGV[i + 2])
    table.insert(out, ARGV[i])
  end
end
out[1] = redis.call('HLEN', KEYS[2])
keep_keys(tonumber(ARGV[3]))
return out
