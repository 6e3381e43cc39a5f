-- A node stops cleanly: its connections leave the room, and their users
-- leave after the grace period unless they come back (on another node, or on
-- this one started again).
--
-- ARGV: 1 node id, 2 grace ms, 3 key lifetime ms
release({ [ARGV[1]] = true }, now + tonumber(ARGV[2]))
keep_keys(tonumber(ARGV[3]))
return 0
