-- rmdir.lua - remove namespace <path> if nothing is held or waited for in
-- it or below it.
--
-- KEYS: K_RMDIR (script_iface.h): NS n:<path>, CHILDREN c:<path>, TX
--       tx:<path>, WR (at K_WR for live_waiter), TS ts:<path>, LOCK
--       l:<path>, PARENT_NS n:<parent>, PARENT_CHILDREN c:<parent>, Q
--       q:<path>, WX wx:<path>, WS ws:<path>, FILES f:<path>
-- ARGV: A_RMDIR: LEAF, PARENT_IS_ROOT '1'|'0'
-- Its tx/ts summaries hold an entry with a live score while anything in
-- it or below it is held (lib.lua), its own '.lock' included.
-- A lock file that exists unheld (file.lua) keeps it too, as on a disk.
-- Replies: OK; ENOENT; ENOTEMPTY.
local K, A = K_RMDIR, A_RMDIR
local now = now_ms()
if redis.call('EXISTS', KEYS[K.NS]) == 0 then
  return plain_reply(STATUS.ENOENT, now)
end
if redis.call('SCARD', KEYS[K.CHILDREN]) > 0 or
   redis.call('HLEN', KEYS[K.FILES]) > 0 or
   zlive(KEYS[K.TX], now) > 0 or
   zlive(KEYS[K.TS], now) > 0 or #live_holders(KEYS[K.LOCK], now) > 0 or
   nearest_waiter(KEYS[K.Q], nil, 'x', now, '') or
   nearest_waiter(KEYS[K.WX], nil, 'x', now, '') or
   nearest_waiter(KEYS[K.WS], nil, 'x', now, '') then
  return plain_reply(STATUS.ENOTEMPTY, now)
end
redis.call('DEL', KEYS[K.NS], KEYS[K.CHILDREN], KEYS[K.TX], KEYS[K.TS],
           KEYS[K.LOCK], KEYS[K.Q], KEYS[K.WX], KEYS[K.WS])
redis.call('SREM', KEYS[K.PARENT_CHILDREN], ARGV[A.LEAF])
local parent = ns_attrs(KEYS[K.PARENT_NS], ARGV[A.PARENT_IS_ROOT] == '1')
if parent then
  redis.call('HSET', KEYS[K.PARENT_NS], 'mode', parent[1], 'uid', parent[2],
             'gid', parent[3], 'ctime', parent[4], 'mtime', now)
end
return plain_reply(STATUS.OK, now)
