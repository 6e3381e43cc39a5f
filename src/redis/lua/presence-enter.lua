-- A connection enters a room. A user is in a room while any of their
-- connections is, on any node, and through the grace period after the last
-- one left: only a user not there at all is new.
--
-- KEYS: 1 connections (conn → uid), 2 users (uid → name), 3 counts (uid → connections), 4 reps (uid → conn)
-- ARGV: 1 connection id, 2 user id, 3 name
-- Returns {1 if the user is new to the room else 0, users in the room}
if redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
end
local new = redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
-- The newest connection stands for the user where the original protocol wants a connection id.
redis.call('HSET', KEYS[4], ARGV[2], ARGV[1])
return {new, redis.call('HLEN', KEYS[2])}
