-- Reads a room's moderation in one step: its sanctions and its rules.
--
-- KEYS: 1 the room's sanctions (field kind:uid, value its end in ms, 0 for none),
--       2 its rules (slow, pinned, version)
-- Returns {the sanctions as field, value, field, value…, {slow, pinned, version}}
return {redis.call('HGETALL', KEYS[1]), redis.call('HMGET', KEYS[2], 'slow', 'pinned', 'version')}
