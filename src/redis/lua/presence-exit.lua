-- A connection leaves a room. When it was its user's last one there, the user
-- leaves after the grace period (presence-sweep.lua announces it), which a
-- connection coming back in time cancels; with no grace, at once.
--
-- ARGV: 1 connection id, 2 user id, 3 grace ms, 4 key lifetime ms, 5 the node's id
--       when this was its last connection in the room, else ''
-- Returns {the user's connections still in the room (-1 if this one was not there)},
-- followed by {uid, name, rep, users left} when the user left the room at once.
local left = remove_conn(ARGV[1], ARGV[2])
local result = {left}
if left == 0 then
  local grace = tonumber(ARGV[3])
  if grace > 0 then
    redis.call('ZADD', KEYS[6], now + grace, ARGV[2])
  else
    depart(ARGV[2], result)
    if #result > 1 then table.insert(result, redis.call('HLEN', KEYS[2])) end
  end
end
-- A node with nobody left in the room gives up its lease: an empty room's keys
-- then go at once rather than a key lifetime later, so a room nobody is in
-- costs Redis nothing.
if ARGV[5] ~= '' then redis.call('ZREM', KEYS[5], ARGV[5]) end
keep_keys(tonumber(ARGV[4]))
return result
