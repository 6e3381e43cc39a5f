-- Opens every room script: a room's epoch names one lifetime of its counter.
-- It is made with the first read or write of the room and is gone with the
-- counter when Redis loses its data (or the room idles out), so a client
-- holding mids of an old lifetime can tell. KEYS[1] is the counter, KEYS[3]
-- the epoch key; the last argument is a new epoch, used only if the room has
-- none.
--
-- With a database behind Redis, a room without an epoch may be one that
-- Redis lost and the database still holds: the caller passes '' first, and
-- the script answers {-1} without doing anything. The caller then asks the
-- database and passes `epoch/top`, so the room goes on under its epoch from
-- the newest mid the database has (none of the next mids is one the
-- database would take as kept already), or a new epoch for a room it has never held.
local epoch = redis.call('GET', KEYS[3])
-- The room is new to this Redis: its keys are made by this step.
local born = not epoch
if born then
  local seed = ARGV[#ARGV]
  if seed == '' then return {-1} end
  epoch = seed
  local slash = string.find(seed, '/', 1, true)
  if slash then
    epoch = string.sub(seed, 1, slash - 1)
    if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], string.sub(seed, slash + 1)) end
  end
  redis.call('SET', KEYS[3], epoch)
end
