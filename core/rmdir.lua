-- rmdir.lua - remove namespace <path> if nothing is held or waited for in
-- it or below it.
--
-- KEYS: 1 n:<path>, 2 c:<path>, 3 f:<path>, 4 dx:<path>, 5 wr,
--       6 ds:<path>, 7 l:<path>, 8 n:<parent>, 9 c:<parent>, 10 q:<path>,
--       11 wx:<path>, 12 ws:<path>   (wr sits at K_WR for live_waiter)
-- ARGV: 1 leaf, 2 parent is root '1'|'0'
-- Replies: OK; ENOENT; ENOTEMPTY.
local now = now_ms()
if redis.call('EXISTS', KEYS[1]) == 0 then return plain_reply('ENOENT', now) end
if redis.call('SCARD', KEYS[2]) > 0 or zlive(KEYS[3], now) > 0 or
   zlive(KEYS[4], now) > 0 or zlive(KEYS[6], now) > 0 or
   #live_holders(KEYS[7], now) > 0 or
   nearest_waiter(KEYS[10], nil, 'x', now, '') or
   nearest_waiter(KEYS[11], nil, 'x', now, '') or
   nearest_waiter(KEYS[12], nil, 'x', now, '') then
  return plain_reply('ENOTEMPTY', now)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[6], KEYS[7],
           KEYS[10], KEYS[11], KEYS[12])
redis.call('SREM', KEYS[9], ARGV[1])
local parent = ns_attrs(KEYS[8], ARGV[2] == '1')
if parent then
  redis.call('HSET', KEYS[8], 'mode', parent[1], 'uid', parent[2],
             'gid', parent[3], 'ctime', parent[4], 'mtime', now)
end
return plain_reply('OK', now)
