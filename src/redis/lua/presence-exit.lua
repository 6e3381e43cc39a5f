-- A connection leaves a room. When it was its user's last one there, the
-- caller schedules the user's departure after the grace period
-- (presence-gone.lua), which a connection coming back in time cancels.
--
-- KEYS: 1 connections (conn → uid), 2 counts, 3 reps (uid → conn)
-- ARGV: 1 connection id, 2 user id
-- Returns the user's connections still in the room; -1 if this one was not there.
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local left = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if left <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[2])
  return 0
end
-- The user stays: if this connection stood for them, another of theirs does now, so that
-- an original-protocol `pm` to the id in `users` still reaches them. Rare, so a scan will do.
if redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i + 1] == ARGV[2] then
      redis.call('HSET', KEYS[3], ARGV[2], all[i])
      break
    end
  end
end
return left
