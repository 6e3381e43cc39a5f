-- A user has a new name: only where they are now (a renamer's kept rooms may
-- include one they have no connection in), so a rename never lists anyone.
--
-- KEYS: 1 the room's users (uid → name)
-- ARGV: 1 user id, 2 name
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
