-- A user takes a new name in a room, in two steps over all their rooms: each
-- room first 'claim's it (refused where another user holds it), then every
-- room 'commit's it, or, if one refused, 'undo'es its claim. Only where the user
-- is now: a renamer's kept rooms may include rooms they have left, which hear nothing.
--
-- ARGV: 1 user id, 2 name, 3 the name's key, 4 'claim', 'commit' or 'undo'
-- Returns for 'claim': 0 the user is not in the room, -1 another user holds
-- the name, 1 claimed now, 2 held already; for 'commit': 1 renamed, 0 not in the room
local uid, key = ARGV[1], ARGV[3]
local here = redis.call('HEXISTS', KEYS[2], uid) == 1
if ARGV[4] == 'claim' then
  if not here then return 0 end
  if name_taken(uid, key) then return -1 end
  if redis.call('HGET', KEYS[7], 'n:' .. key) == uid then return 2 end
  redis.call('HSET', KEYS[7], 'n:' .. key, uid)
  return 1
end
if ARGV[4] == 'undo' then
  if redis.call('HGET', KEYS[7], 'u:' .. uid) ~= key and redis.call('HGET', KEYS[7], 'n:' .. key) == uid then
    redis.call('HDEL', KEYS[7], 'n:' .. key)
  end
  return 0
end
if not here then
  -- Left between the two steps: the claim goes with them.
  if redis.call('HGET', KEYS[7], 'n:' .. key) == uid then redis.call('HDEL', KEYS[7], 'n:' .. key) end
  return 0
end
hold_name(uid, key)
redis.call('HSET', KEYS[2], uid, ARGV[2])
return 1
