-- Changes a room and counts the change, keeping the directory (sorted by the
-- name's folded key) in step. The caller read the room first and folded its
-- names; if the name changed since, it reads again.
--
-- KEYS: 1 the room's hash, 2 the directory
-- ARGV: 1 the name the caller read, 2 its directory member, 3 the directory
--       member of the name after the change, then field, value pairs
-- Returns the hash after the change (field, value, …), 0 when the name
-- changed since it was read, or nil when there is no such room.
local name = redis.call('HGET', KEYS[1], 'name')
if not name then return nil end
if name ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZREM', KEYS[2], ARGV[2])
if redis.call('HGET', KEYS[1], 'visibility') ~= 'private' then redis.call('ZADD', KEYS[2], 0, ARGV[3]) end
return redis.call('HGETALL', KEYS[1])
