-- Reads a room's top mid, its epoch and part of its history in one
-- consistent step (store-and-publish.lua says what the log and the window
-- are). The top is the published mark where there is one (behind Sentinel:
-- nothing above it has been seen by anyone), else the counter.
--
-- KEYS: 1 counter, 2 log, 3 epoch, 4 published mark, 5 window, 6 window's mids, 7 floor
-- ARGV: 1 'since', 'before' or 'latest', 2 its mid, 3 how many entries (for
--       'since') or messages (otherwise) at most, 4 the client's epoch for
--       'since' ('' for none), 5 milliseconds the room's keys are kept from
--       now, 6 '1' when a database keeps every message (the counter and
--       epoch do not idle out, store-and-publish.lua says why) or '', 7 a new
--       epoch
-- Returns {top, epoch, floor, the newest log entries after `since` (for
--          'since'), the window's mid, bundle, mid, bundle… (otherwise)},
--          each newest first
-- A room only ever read has no mids to keep: its epoch idles out as before.
local keep = ARGV[6] ~= '' and redis.call('EXISTS', KEYS[1]) == 1
for i = 1, 7 do
  if not keep or (i ~= 1 and i ~= 3) then redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
end
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
local length = redis.call('LLEN', KEYS[6])
if length == 0 and redis.call('HLEN', KEYS[5]) > 0 then
  length = windowOrder(KEYS[5], KEYS[6])
  redis.call('PEXPIRE', KEYS[6], ARGV[5])
end
-- Newest first, none above `below` (behind Sentinel the list may hold mids stored and not yet published).
local last = lastAtMost(KEYS[6], length, below)
local mids = {}
if last >= 0 then
  local from = math.max(0, last - tonumber(ARGV[3]) + 1)
  local order = redis.call('LRANGE', KEYS[6], from, last)
  for i = #order, 1, -1 do mids[#mids + 1] = order[i] end
end
local bundles = {}
if #mids > 0 then
  local found = redis.call('HMGET', KEYS[5], unpack(mids))
  for i = 1, #mids do
    bundles[#bundles + 1] = mids[i]
    bundles[#bundles + 1] = found[i] or ''
  end
end
return {top, epoch, floor, {}, bundles}
