-- Moves a user's read mark for one room or conversation forward; a mark of
-- another epoch (that history started over) is replaced whatever its mid.
--
-- KEYS: 1 the user's read hash
-- ARGV: 1 the room or conversation, 2 epoch, 3 mid, 4 seconds the user's keys are kept
-- Returns 1 when the mark moved, 0 when it was already as far.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  -- The mid is the digits after the last colon; the epoch, whatever came before.
  local epoch, mid = string.match(current, '^(.*):(%d+)$')
  if epoch == ARGV[2] and tonumber(ARGV[3]) <= tonumber(mid) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
