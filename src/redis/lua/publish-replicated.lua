-- Publishes a message stored earlier, once the replicas have it, and moves
-- the room's published mark up to it: history shows nothing above that mark,
-- so nobody sees a message a failover could still take back.
--
-- KEYS: 1 published mark
-- ARGV: 1 channel, 2 payload, 3 mid, 4 PUBLISH, 5 seconds of idle time the mark is kept
local mid = tonumber(ARGV[3])
if mid > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], mid, 'EX', ARGV[5])
end
return redis.call(ARGV[4], ARGV[1], ARGV[2])
