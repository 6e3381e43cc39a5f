-- A connection leaves a room. When it was its user's last one there, the
-- caller schedules the user's departure after the grace period
-- (presence-gone.lua), which a connection coming back in time cancels.
--
-- KEYS: 1 connections, 2 counts
-- ARGV: 1 connection id, 2 user id
-- Returns the user's connections still in the room; -1 if this one was not there.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local left = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 0
end
return left
