-- Opens the scripts that read or write a room's window: the order of its
-- mids is a list (mids only ever come in rising): a sorted set's ZADD and
-- trim had been an eighth of what Redis ran for a stored message. An
-- earlier version kept that order in a sorted set under another key; a window
-- found without its list is put in order from its hash's mids.
--
-- Returns how many mids the list holds; `made` tells whether it was just made.
local function windowOrder(window, order)
  local mids = redis.call('HKEYS', window)
  for i = 1, #mids do mids[i] = tonumber(mids[i]) end
  table.sort(mids)
  redis.call('DEL', order)
  -- In slices: unpack is bounded by Lua's stack.
  for from = 1, #mids, 1000 do
    redis.call('RPUSH', order, unpack(mids, from, math.min(from + 999, #mids)))
  end
  return #mids
end

-- The highest index of the order whose mid is at most `below` (0-based), or -1.
local function lastAtMost(order, length, below)
  if length == 0 then return -1 end
  if tonumber(redis.call('LINDEX', order, -1)) <= below then return length - 1 end
  local lo, hi, found = 0, length - 2, -1
  while lo <= hi do
    local m = math.floor((lo + hi) / 2)
    if tonumber(redis.call('LINDEX', order, m)) <= below then
      found = m
      lo = m + 1
    else
      hi = m - 1
    end
  end
  return found
end
