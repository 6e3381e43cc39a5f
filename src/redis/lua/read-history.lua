-- Reads a room's top mid, its epoch and part of its history in one
-- consistent step (store-and-publish.lua says what the log and the window
-- are). The top is the published mark where there is one (behind Sentinel:
-- nothing above it has been seen by anyone), else the counter.
--
-- KEYS: 1 counter, 2 log, 3 epoch, 4 published mark, 5 window, 6 window's mids, 7 floor
-- ARGV: 1 'since', 'before' or 'latest', 2 its mid, 3 how many entries (for
--       'since') or messages (otherwise) at most, 4 the client's epoch for
--       'since' ('' for none), 5 seconds of idle time the room's keys are
--       kept, 6 a new epoch
-- Returns {top, epoch, floor, the newest log entries after `since` (for
--          'since'), the window's mid, bundle, mid, bundle… (otherwise)},
--          each newest first
for i = 1, 7 do redis.call('EXPIRE', KEYS[i], ARGV[5]) end
local top = tonumber(redis.call('GET', KEYS[4]) or redis.call('GET', KEYS[1]) or '0')
-- No floor: nothing was ever logged (HISTORY_SIZE=0), so the log is whole from nothing on.
local floor = tonumber(redis.call('GET', KEYS[7]) or (top + 1))
if ARGV[1] == 'since' then
  -- A since of another epoch counts messages that are gone: all of this epoch's are new to the client.
  local from = '(' .. ARGV[2] .. '-0'
  if ARGV[4] ~= '' and ARGV[4] ~= epoch then from = '-' end
  -- The newest only: a since far back must not read (and hold in memory) a whole long history.
  return {top, epoch, floor, redis.call('XREVRANGE', KEYS[2], top .. '-0', from, 'COUNT', ARGV[3]), {}}
end
local below = top
if ARGV[1] == 'before' then below = math.min(tonumber(ARGV[2]) - 1, top) end
local mids = redis.call('ZREVRANGEBYSCORE', KEYS[6], below, '-inf', 'LIMIT', 0, ARGV[3])
local bundles = {}
if #mids > 0 then
  local found = redis.call('HMGET', KEYS[5], unpack(mids))
  for i = 1, #mids do
    bundles[#bundles + 1] = mids[i]
    bundles[#bundles + 1] = found[i] or ''
  end
end
return {top, epoch, floor, {}, bundles}
