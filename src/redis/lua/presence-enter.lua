-- A connection enters a room. A user is in a room while any of their
-- connections is, on any node, and through the grace period after the last
-- one left: only a user not there at all is new.
--
-- A user whose name another user in the room holds (compared by key, so that
-- 'Bob' and 'bob' are one name) is refused, here in one step so that two
-- nodes letting in 'Bob' and 'bob' at once admit one of them.
--
-- ARGV: 1 connection id, 2 user id, 3 name, 4 node id, 5 lease ms, 6 key lifetime ms,
--       7 '1' if it is the node's first connection in the room, 8 grace ms, 9 the name's key,
--       10 how many users the room may hold for them to be listed (0: never listed)
-- Returns {1 if the user is new to the room else 0, users in the room,
--          1 if the node was in the room but its lease had lapsed else 0,
--          then uid, name, rep of every user when they are no more than ARGV[10]},
--         or {-1} when the name is taken. The list spares a join the reads that
--         would ask the same right after (an HLEN and two HGETALLs on each join).
if name_taken(ARGV[2], ARGV[9]) then return {-1} end
local mine = redis.call('ZSCORE', KEYS[5], ARGV[4])
local lapsed = 0
if ARGV[7] == '1' then
  -- A lease this process never took: an earlier process with this node id left
  -- connections here. Their users get the grace, as after a clean stop.
  if mine then release({ [ARGV[4]] = true }, now + tonumber(ARGV[8])) end
elseif not mine or tonumber(mine) < now then
  lapsed = 1
end
redis.call('ZADD', KEYS[5], now + tonumber(ARGV[5]), ARGV[4])
local new = add_conn(ARGV[1], ARGV[2], ARGV[3], ARGV[9])
keep_keys(tonumber(ARGV[6]))
local users = redis.call('HLEN', KEYS[2])
local reply = {new, users, lapsed}
if users <= tonumber(ARGV[10]) then
  local all = redis.call('HGETALL', KEYS[2])
  local uids = {}
  for i = 1, #all, 2 do uids[#uids + 1] = all[i] end
  local reps = redis.call('HMGET', KEYS[4], unpack(uids))
  for i = 1, #uids do
    reply[#reply + 1] = uids[i]
    reply[#reply + 1] = all[2 * i]
    reply[#reply + 1] = reps[i] or ''
  end
end
return reply
