-- A node's periodic pass over a room it has connections in: renews its lease,
-- takes out the connections of nodes whose lease lapsed, and announces the
-- departures that are due. Each pass finishes what an interrupted one left, as
-- it is one step and any live node with connections there runs it.
--
-- ARGV: 1 node id, 2 lease ms, 3 key lifetime ms, 4 '1' if other nodes' lapsed
--       leases may be taken out now, 5 '1' to audit the whole room as well,
--       6 most departures to announce
-- Returns {1 if the node's own lease had lapsed else 0, users in the room,
--          then user id, name, connection that stood for them, of each user gone}
local mine = redis.call('ZSCORE', KEYS[5], ARGV[1])
local out = {0, 0}
if not mine or tonumber(mine) < now then out[1] = 1 end
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[2]), ARGV[1])

-- Rebuilds what is derived from the connections (counts, reps) and takes out a
-- listed user with neither a connection nor a departure due: whatever state a
-- writer that stopped half-way (a version before these scripts, an operator)
-- left behind heals here.
local function audit()
  local counted, some = {}, {}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    counted[all[i + 1]] = (counted[all[i + 1]] or 0) + 1
    some[all[i + 1]] = all[i]
  end
  local stored = redis.call('HGETALL', KEYS[3])
  local had = {}
  for i = 1, #stored, 2 do
    had[stored[i]] = tonumber(stored[i + 1])
    if not counted[stored[i]] then redis.call('HDEL', KEYS[3], stored[i]) end
  end
  for uid, n in pairs(counted) do
    if had[uid] ~= n then redis.call('HSET', KEYS[3], uid, n) end
    if redis.call('HGET', KEYS[1], redis.call('HGET', KEYS[4], uid) or '') ~= uid then
      redis.call('HSET', KEYS[4], uid, some[uid])
    end
  end
  for _, uid in ipairs(redis.call('HKEYS', KEYS[2])) do
    if not counted[uid] and not redis.call('ZSCORE', KEYS[6], uid) then
      redis.call('ZADD', KEYS[6], now, uid)
    end
  end
end

if ARGV[4] == '1' then
  local dead, any = {}, false
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. now)) do
    dead[node] = true
    any = true
  end
  if ARGV[5] == '1' then
    -- A connection under no lease at all is one nobody will ever renew.
    local all = redis.call('HKEYS', KEYS[1])
    for _, conn in ipairs(all) do
      local node = node_of(conn)
      if not dead[node] and not redis.call('ZSCORE', KEYS[5], node) then
        dead[node] = true
        any = true
      end
    end
  end
  if any then release(dead, now) end
  if ARGV[5] == '1' then audit() end
end

for _, uid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, tonumber(ARGV[6]))) do
  depart(uid, out)
end
out[2] = redis.call('HLEN', KEYS[2])
keep_keys(tonumber(ARGV[3]))
return out
