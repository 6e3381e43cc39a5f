-- Opens every script of a room's presence. A room's presence is seven keys in
-- the room's hash slot:
--   KEYS[1] connections (conn → uid)       KEYS[2] users (uid → name)
--   KEYS[3] counts (uid → connections)     KEYS[4] reps (uid → the conn that stands for them)
--   KEYS[5] leases (node → ms until which its connections count)
--   KEYS[6] leaving (uid → ms when the room is to hear they left)
--   KEYS[7] names: 'n:' .. a name as compared (its key) → the uid holding it, and
--           'u:' .. uid → the key of that user's name; held while the user is in the room
-- A connection counts while its node's lease on the room runs: the node renews
-- it with every sweep, so what a dead node left is taken out once it lapses,
-- by whichever live node sweeps the room next. Each key expires a while after
-- the last write, so a room nobody sweeps any more is gone on its own.
-- Times are Redis's own clock: nodes' clocks may disagree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function node_of(conn)
  local dot = string.find(conn, '.', 1, true)
  if dot then return string.sub(conn, 1, dot - 1) end
  return ''
end

-- The user stays: if `conn` stood for them, another of theirs does now, so that an
-- original-protocol `pm` to the id in `users` still reaches them. Rare, so a scan will do.
local function new_rep(uid, conn)
  if redis.call('HGET', KEYS[4], uid) ~= conn then return end
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i + 1] == uid then
      redis.call('HSET', KEYS[4], uid, all[i])
      return
    end
  end
end

-- Takes a connection out; returns its user's connections left there, -1 if it was not there.
local function remove_conn(conn, uid)
  if redis.call('HDEL', KEYS[1], conn) == 0 then return -1 end
  local left = redis.call('HINCRBY', KEYS[3], uid, -1)
  if left <= 0 then
    redis.call('HDEL', KEYS[3], uid)
    return 0
  end
  new_rep(uid, conn)
  return left
end

-- The user's name is free again in the room.
local function release_name(uid)
  local key = redis.call('HGET', KEYS[7], 'u:' .. uid)
  if not key then return end
  redis.call('HDEL', KEYS[7], 'u:' .. uid)
  if redis.call('HGET', KEYS[7], 'n:' .. key) == uid then redis.call('HDEL', KEYS[7], 'n:' .. key) end
end

-- Whether another user in the room holds the name of key `key`.
local function name_taken(uid, key)
  local holder = redis.call('HGET', KEYS[7], 'n:' .. key)
  return holder ~= false and holder ~= uid
end

-- The user holds the name of key `key` in the room, and no longer the one they held before.
local function hold_name(uid, key)
  local before = redis.call('HGET', KEYS[7], 'u:' .. uid)
  if before and before ~= key and redis.call('HGET', KEYS[7], 'n:' .. before) == uid then
    redis.call('HDEL', KEYS[7], 'n:' .. before)
  end
  redis.call('HSET', KEYS[7], 'u:' .. uid, key, 'n:' .. key, uid)
end

-- The user is no longer in the room, unless a connection of theirs came back:
-- appends {uid, name, rep} to `gone` when they are gone now.
local function depart(uid, gone)
  redis.call('ZREM', KEYS[6], uid)
  if tonumber(redis.call('HGET', KEYS[3], uid) or '0') > 0 then return end
  local name = redis.call('HGET', KEYS[2], uid)
  if not name then return end
  local rep = redis.call('HGET', KEYS[4], uid) or ''
  redis.call('HDEL', KEYS[2], uid)
  redis.call('HDEL', KEYS[4], uid)
  release_name(uid)
  table.insert(gone, uid)
  table.insert(gone, name)
  table.insert(gone, rep)
end

-- Takes out every connection of the nodes in `nodes` (a set) and their leases;
-- their users with no connection left leave at `due` (a sweep announces it).
local function release(nodes, due)
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if nodes[node_of(all[i])] and remove_conn(all[i], all[i + 1]) == 0 then
      redis.call('ZADD', KEYS[6], due, all[i + 1])
    end
  end
  for node in pairs(nodes) do redis.call('ZREM', KEYS[5], node) end
end

-- Puts a connection in; returns 1 if its user is new to the room. A departure
-- of theirs still pending is called off. `key` is the name as compared.
local function add_conn(conn, uid, name, key)
  hold_name(uid, key)
  if redis.call('HSET', KEYS[1], conn, uid) == 1 then
    redis.call('HINCRBY', KEYS[3], uid, 1)
  end
  redis.call('ZREM', KEYS[6], uid)
  local new = redis.call('HSET', KEYS[2], uid, name)
  -- The newest connection stands for the user where the original protocol wants a connection id.
  redis.call('HSET', KEYS[4], uid, conn)
  return new
end

local function keep_keys(ms)
  for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], ms) end
end
