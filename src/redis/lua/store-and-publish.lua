-- Stores a chat message, or a change to one, and, unless the caller
-- publishes it later (after WAIT, behind Sentinel), publishes it in the same
-- step: the order of the log and the order of the channel cannot differ.
--
-- A room keeps two things (docs/architecture.md, "The hot window"):
-- - the window: its newest messages (a hash mid -> bundle, and their mids in
--   order in a list: window-order.lua), each bundle being the message as it is now: first line
--   `ts TAB frame`, second `m` and the mids of the log entries that hold its
--   text, then one line `key TAB mid TAB frame` per current change (the newest
--   edit, the last word of each (user, emoji), the deletion). A change
--   rewrites its message's bundle in place, so changes never push messages
--   out of the window;
-- - the log: the entries, messages and changes, of the room's last
--   HISTORY_SIZE mids, in mid order, for `since` recovery; `floor` is the
--   lowest mid from which it is whole (a deletion takes entries out of it on
--   purpose, trimming does not count). The XADD trims the log by mid itself:
--   reading the entry that falls out and trimming by it cost a tenth of
--   what Redis ran for a stored message.
--
-- KEYS: 1 counter, 2 log, 3 epoch, 4 idempotency key, 5 window, 6 window's mids, 7 floor,
--       8 the room's carry stream (src/bus/archive-carrier.ts), 9 the carry
--       index set the room is noted in (on one Redis; in a Cluster it lives
--       on another shard, the node notes the room, and this is KEYS[8] again),
--       10 the room's carried changes (the edits and deletions in its carry
--       stream, by the message they change: `kind TAB mid TAB time TAB
--       carried TAB frame`, carried 0 until carry-done.lua marks it)
-- ARGV: 1 channel, 2 head, 3 tail (the frame is head .. mid .. tail),
--       4 messages the window keeps and entries the log keeps (0: none),
--       5 time (ms), 6 PUBLISH, SPUBLISH or '' (the caller publishes),
--       7 seconds the idempotency key is kept ('' for none), 8 milliseconds
--       the room's keys are kept from now, 9 '' for a message, else the change:
--       'edit', 'react' or 'delete', 10 its message's mid, 11 the change's key
--       (one current change per key), 12 '1' when a database keeps every
--       message (DATABASE_URL) or '', 13 '1' when the change's message is
--       past the window and the database keeps it (the change is stored,
--       and the window left as it is) or '', 14 the room, to note in
--       KEYS[9], or '', 15 '1' to set the keys' time to live (ARGV[8]) now,
--       or '' when this node did so lately (src/bus/redis-broker.ts says
--       why that is enough), 16 a new epoch
-- Returns {mid, payload, epoch}, the payload only when the caller publishes it
-- (ARGV[6] ''; else it is '', and the node does not read a frame back for
-- each message); a message sent again under a kept idempotency key is not
-- stored twice: the first one's mid comes back, with no payload.
-- A change to a message the window does not hold (unless ARGV[13] says the
-- database does), or holds deleted, is not stored: mid 0.
if ARGV[7] ~= '' then
  local seen = redis.call('GET', KEYS[4])
  if seen then return {tonumber(seen), '', epoch} end
end
local size = tonumber(ARGV[4])
-- A deletion's tombstone (`ts TAB frame`) for the carry, when its message had not reached the database yet.
local carriedTomb = nil
local kind = ARGV[9]
local lines = {}
-- The window holds the changed message: the change rewrites its bundle.
local inWindow = false
if kind ~= '' then
  local bundle = redis.call('HGET', KEYS[5], ARGV[10])
  if not bundle and ARGV[13] ~= '1' then return {0, '', epoch} end
  -- Past the window the database may not have heard of a deletion yet.
  if not bundle and string.sub(redis.call('HGET', KEYS[10], ARGV[10]) or '', 1, 7) == 'delete\t' then
    return {0, '', epoch}
  end
  inWindow = bundle ~= false and bundle ~= nil
  for line in string.gmatch(bundle or '', '[^\n]+') do lines[#lines + 1] = line end
  for i = 3, #lines do
    if string.sub(lines[i], 1, 7) == 'delete\t' then return {0, '', epoch} end
  end
end
-- The keys' time to live is set below when the node asks, or when this step
-- may make a key: a room that Redis had lost (its epoch new: room-epoch.lua),
-- a log it had no floor for, or a window it had no list for.
local refresh = ARGV[15] ~= '' or born
local mid = redis.call('INCR', KEYS[1])
-- Lua turns a number into text with sprintf at every use: once is enough.
local id = tostring(mid)
local frame = ARGV[2] .. id .. ARGV[3]
if size > 0 then
  local floor = redis.call('GET', KEYS[7])
  if not floor then
    -- A new log is whole from this entry on; one kept by an earlier version without a floor from its first.
    local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
    floor = first and string.match(first[1], '^%d+') or id
    redis.call('SET', KEYS[7], floor)
    refresh = true
  end
  -- A room Redis had lost and a database kept numbers on from its top: its log is whole from where it began.
  local low = mid - size + 1
  if low > tonumber(floor) then
    low = tostring(low)
    redis.call('SET', KEYS[7], low, 'KEEPTTL')
    redis.call('XADD', KEYS[2], 'MINID', low .. '-0', id .. '-0', 'ts', ARGV[5], 'f', frame)
  else
    redis.call('XADD', KEYS[2], id .. '-0', 'ts', ARGV[5], 'f', frame)
  end
  if kind == '' then
    redis.call('HSET', KEYS[5], id, ARGV[5] .. '\t' .. frame .. '\nm ' .. id)
    local held = redis.call('RPUSH', KEYS[6], id)
    if held == 1 and redis.call('HLEN', KEYS[5]) > 1 then
      held = windowOrder(KEYS[5], KEYS[6])
      refresh = true
    end
    if held > size then
      redis.call('HDEL', KEYS[5], unpack(redis.call('LPOP', KEYS[6], held - size)))
    end
  elseif not inWindow then
    -- Past the window: the database holds the message, and the carry takes the change to it there.
  elseif kind == 'delete' then
    -- Deletion deletes: the message's text and every edit of it leave the
    -- log too, and the window keeps a tombstone with the message's mid.
    local tab = string.find(lines[1], '\t', 1, true)
    local json = string.sub(lines[1], tab + 1)
    local read, message = pcall(cjson.decode, json)
    if not read then
      -- Stored before names were checked for them, a lone surrogate's escape (\ud800), which cjson
      -- cannot read, would make the message undeletable: it is read as U+FFFD. An escape is a \u
      -- after an even run of backslashes; after an odd one it is text (\\ud800).
      message = cjson.decode((string.gsub(json, '(\\*)\\u[dD][89a-fA-F]%x%x', function(run)
        if #run % 2 == 0 then return run .. '\\ufffd' end
      end)))
    end
    message.message = ''
    local tomb = string.sub(lines[1], 1, tab) .. cjson.encode(message)
    for text in string.gmatch(lines[2], '%d+') do
      redis.call('XDEL', KEYS[2], text .. '-0')
      -- Not yet in the database: the text leaves the carry stream too, and
      -- the deletion carries the tombstone in the message's stead.
      if ARGV[12] ~= '' and redis.call('XDEL', KEYS[8], text .. '-0') == 1 and text == ARGV[10] then
        carriedTomb = tomb
      end
    end
    redis.call('HSET', KEYS[5], ARGV[10], tomb .. '\nm\n' .. ARGV[11] .. '\t' .. id .. '\t' .. frame)
  else
    local key = ARGV[11] .. '\t'
    local kept = {lines[1], lines[2]}
    if kind == 'edit' then kept[2] = kept[2] .. ' ' .. id end
    for i = 3, #lines do
      if string.sub(lines[i], 1, #key) ~= key then kept[#kept + 1] = lines[i] end
    end
    kept[#kept + 1] = key .. id .. '\t' .. frame
    redis.call('HSET', KEYS[5], ARGV[10], table.concat(kept, '\n'))
  end
end
if ARGV[7] ~= '' then
  redis.call('SET', KEYS[4], id, 'EX', ARGV[7])
end
-- Every use keeps the room for its idle time more: a room nobody uses for
-- that long is forgotten, history and all. With a database behind Redis the
-- counter and the epoch stay: the database keeps the room's mids, and a room
-- that came back numbering from 1 again would have them twice.
if ARGV[12] ~= '' then
  if refresh then
    redis.call('PERSIST', KEYS[1])
    redis.call('PERSIST', KEYS[3])
    for _, i in ipairs({2, 5, 6, 7}) do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
  end
  -- Written in the same step as the history, so no message can be stored and
  -- published without being on its way to the database. Not capped, and not
  -- expired with the room: it holds what the database has not taken yet.
  -- Entries are named by mid, so a deletion finds its message's. Only a Redis
  -- that lost the room's counter but not its stream could give a lower mid,
  -- which the stream refuses: the entry then takes the next id.
  local fields = {'m', id, 'e', epoch, 't', ARGV[5], 'f', frame}
  if carriedTomb then
    fields[#fields + 1] = 'x'
    fields[#fields + 1] = carriedTomb
  end
  local added = redis.pcall('XADD', KEYS[8], id .. '-0', unpack(fields))
  if type(added) == 'table' and added.err then redis.call('XADD', KEYS[8], '*', unpack(fields)) end
  if ARGV[14] ~= '' then redis.call('SADD', KEYS[9], ARGV[14]) end
  -- The database's copy of the message is out of date until this is carried:
  -- a search or a page read from it asks here what it does not say yet.
  if kind == 'edit' or kind == 'delete' then
    redis.call('HSET', KEYS[10], ARGV[10], kind .. '\t' .. id .. '\t' .. ARGV[5] .. '\t0\t' .. frame)
    redis.call('PERSIST', KEYS[10])
  end
elseif refresh then
  for _, i in ipairs({1, 2, 3, 5, 6, 7}) do redis.call('PEXPIRE', KEYS[i], ARGV[8]) end
end
-- The envelope of a stored message (src/bus/envelope.ts): mid, epoch, no exclude, no kind.
local payload = id .. '\t' .. epoch .. '\t\t\n' .. frame
if ARGV[6] ~= '' then
  redis.call(ARGV[6], ARGV[1], payload)
  return {mid, '', epoch}
end
return {mid, payload, epoch}
