-- Stores a chat message and, unless the caller publishes it later (after
-- WAIT, behind Sentinel), publishes it in the same step: the order of the
-- stream (history) and the order of the channel (live delivery) cannot differ.
--
-- KEYS: 1 counter, 2 stream, 3 epoch, 4 idempotency key (room-tagged), 5 the
--       room's carry stream (src/bus/archive-carrier.ts)
-- ARGV: 1 channel, 2 head, 3 tail (the frame is head .. mid .. tail),
--       4 stream length kept (0: none), 5 time (ms), 6 PUBLISH, SPUBLISH or ''
--       (the caller publishes), 7 seconds the idempotency key is kept ('' for
--       none), 8 seconds of idle time the room's keys are kept, 9 a new epoch
-- Returns {mid, payload, epoch}; a message sent again under a kept idempotency
-- key is not stored twice: the first one's mid comes back, with no payload.
if ARGV[7] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {tonumber(seen), '', epoch} end
end
local mid = redis.call('INCR', KEYS[1])
local frame = ARGV[2] .. mid .. ARGV[3]
if tonumber(ARGV[4]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], mid .. '-0', 'ts', ARGV[5], 'f', frame)
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[4], mid, 'EX', ARGV[7])
end
-- Every use keeps the room for its idle time more: a room nobody uses for
-- that long is forgotten, counter, history and epoch together.
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[8]) end
-- Written in the same step as the history, so no message can be stored and
-- published without being on its way to the database. Not capped, and not
-- expired with the room: it holds what the database has not taken yet.
if ARGV[9] ~= '' then
  redis.call('XADD', KEYS[5], '*', 'm', mid, 'e', epoch, 't', ARGV[5], 'f', frame)
end
-- The envelope of a stored message (src/bus/envelope.ts): mid, epoch, no exclude, no kind.
local payload = mid .. '\t' .. epoch .. '\t\t\n' .. frame
if ARGV[6] ~= '' then
  redis.call(ARGV[6], ARGV[1], payload)
end
return {mid, payload, epoch}
