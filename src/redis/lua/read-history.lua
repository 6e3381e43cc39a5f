-- Reads a room's top mid, its epoch and a window of its stream in one
-- consistent step. The top is the published mark where there is one (behind
-- Sentinel: nothing above it has been seen by anyone), else the counter.
--
-- KEYS: 1 counter, 2 stream, 3 epoch, 4 published mark
-- ARGV: 1 'since', 'before' or 'latest', 2 its mid, 3 how many entries at most,
--       4 the client's epoch for 'since' ('' for none), 5 seconds of idle time
--       the room's keys are kept, 6 a new epoch
-- Returns {top, epoch, entries}, entries newest first
for i = 1, 4 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
local top = tonumber(redis.call('GET', KEYS[4]) or redis.call('GET', KEYS[1]) or '0')
local entries
if ARGV[1] == 'since' then
  -- A since of another epoch counts messages that are gone: all of this epoch's are new to the client.
  local from = '(' .. ARGV[2] .. '-0'
  if ARGV[4] ~= '' and ARGV[4] ~= epoch then from = '-' end
  -- The newest only: a since far back must not read (and hold in memory) a whole long history.
  entries = redis.call('XREVRANGE', KEYS[2], top .. '-0', from, 'COUNT', ARGV[3])
elseif ARGV[1] == 'before' then
  local below = math.min(tonumber(ARGV[2]) - 1, top)
  entries = redis.call('XREVRANGE', KEYS[2], below .. '-0', '-', 'COUNT', ARGV[3])
else
  entries = redis.call('XREVRANGE', KEYS[2], top .. '-0', '-', 'COUNT', ARGV[3])
end
return {top, epoch, entries}
