-- The grace period of a user's departure from a room is over: unless one of
-- their connections came back, they are no longer in the room.
--
-- KEYS: 1 users, 2 counts, 3 reps
-- ARGV: 1 user id
-- Returns {name, the connection that stood for them, users left} when they
-- are gone now; {} when they came back (or were gone already).
if tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') > 0 then return {} end
local name = redis.call('HGET', KEYS[1], ARGV[1])
if not name then return {} end
local rep = redis.call('HGET', KEYS[3], ARGV[1]) or ''
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return {name, rep, redis.call('HLEN', KEYS[1])}
