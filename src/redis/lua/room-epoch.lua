-- Opens every room script: a room's epoch names one lifetime of its counter.
-- It is made with the first read or write of the room and is gone with the
-- counter when Redis loses its data (or the room idles out), so a client
-- holding mids of an old lifetime can tell. KEYS[3] is the epoch key; the last
-- argument is a new epoch, used only if the room has none.
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[#ARGV]
  redis.call('SET', KEYS[3], epoch)
end
