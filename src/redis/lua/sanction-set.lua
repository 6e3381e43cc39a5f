-- Sets or lifts one ban or mute of a room, and keeps the room's sanctions
-- only as long as one of them runs: while every one has an end, the hash
-- expires with the last of them; one without an end keeps it for good.
-- A lifted last one leaves no hash (Redis drops an empty one).
--
-- KEYS: 1 the room's sanctions (field kind:uid, value its end in ms, 0 for none)
-- ARGV: 1 the field, 2 its end in ms ("0": none), or "" to lift it
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
local last = 0
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  local ends = tonumber(value)
  if ends == 0 then
    redis.call('PERSIST', KEYS[1])
    return 0
  end
  if ends > last then last = ends end
end
if last > 0 then redis.call('PEXPIREAT', KEYS[1], last) end
return last
