-- A node's heartbeat, on Redis's clock (nodes' clocks may disagree).
--
-- KEYS: 1 heartbeats (node id → ms of its last beat)
-- ARGV: 1 node id
-- Returns {now, the node's beat before this one, or -1 if it had none}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local before = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
return {now, tonumber(before or '-1')}
