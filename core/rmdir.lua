-- rmdir.lua - remove namespace <path> if nothing is held or waited for in
-- it or below it.
--
-- KEYS: 1 n:<path>, 2 c:<path>, 3 tx:<path>, 4 wr, 5 ts:<path>,
--       6 l:<path>, 7 n:<parent>, 8 c:<parent>, 9 q:<path>, 10 wx:<path>,
--       11 ws:<path>, 12 f:<path>   (wr sits at K_WR for live_waiter)
-- ARGV: 1 leaf, 2 parent is root '1'|'0'
-- Its tx/ts summaries hold an entry with a live score while anything in
-- it or below it is held (lib.lua), its own '.lock' included.
-- A lock file that exists unheld (file.lua) keeps it too, as on a disk.
-- Replies: OK; ENOENT; ENOTEMPTY.
local now = now_ms()
if redis.call('EXISTS', KEYS[1]) == 0 then return plain_reply('ENOENT', now) end
if redis.call('SCARD', KEYS[2]) > 0 or redis.call('HLEN', KEYS[12]) > 0 or
   zlive(KEYS[3], now) > 0 or
   zlive(KEYS[5], now) > 0 or #live_holders(KEYS[6], now) > 0 or
   nearest_waiter(KEYS[9], nil, 'x', now, '') or
   nearest_waiter(KEYS[10], nil, 'x', now, '') or
   nearest_waiter(KEYS[11], nil, 'x', now, '') then
  return plain_reply('ENOTEMPTY', now)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[5], KEYS[6], KEYS[9],
           KEYS[10], KEYS[11])
redis.call('SREM', KEYS[8], ARGV[1])
local parent = ns_attrs(KEYS[7], ARGV[2] == '1')
if parent then
  redis.call('HSET', KEYS[7], 'mode', parent[1], 'uid', parent[2],
             'gid', parent[3], 'ctime', parent[4], 'mtime', now)
end
return plain_reply('OK', now)
