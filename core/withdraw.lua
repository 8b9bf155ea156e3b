-- withdraw.lua - take a waiting request out of every queue (interrupted,
-- timed out, or its daemon shutting down).
--
-- KEYS: the lock layout of lib.lua.
-- ARGV: 1 waiter id
-- Replies: OK 'removed' | OK 'absent'.
local now = now_ms()
local was = redis.call('HEXISTS', KEYS[K_WR], ARGV[1]) == 1
unqueue(ARGV[1])
if was then return plain_reply('OK', now, 'removed') end
return plain_reply('OK', now, 'absent')
