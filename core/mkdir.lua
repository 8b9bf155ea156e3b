-- mkdir.lua - create namespace <path> in <parent>.
--
-- KEYS: 1 n:<parent>, 2 c:<parent>, 3 n:<path>, 4 l:<path>, 5 f:<parent>
-- ARGV: 1 leaf, 2 mode, 3 uid, 4 gid, 5 parent is root '1'|'0'
-- A set-group-id parent passes its group and the bit on, as on ext4.
-- Replies: OK 'N' attrs; ENOENT (no parent); EEXIST (a namespace, a held
-- lock or a lock file that exists unheld has that name).
local now = now_ms()
local parent = ns_attrs(KEYS[1], ARGV[5] == '1')
if not parent then return plain_reply('ENOENT', now) end
if redis.call('EXISTS', KEYS[3]) == 1 or #live_holders(KEYS[4], now) > 0 or
   redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then
  return plain_reply('EEXIST', now)
end
local mode, gid = tonumber(ARGV[2]), tonumber(ARGV[4])
if math.floor(parent[1] / 1024) % 2 == 1 then -- S_ISGID (02000)
  gid = parent[3]
  if mode % 2048 < 1024 then mode = mode + 1024 end
end
redis.call('HSET', KEYS[3], 'mode', mode, 'uid', tonumber(ARGV[3]),
           'gid', gid, 'ctime', now, 'mtime', now)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'mode', parent[1], 'uid', parent[2],
           'gid', parent[3], 'ctime', parent[4], 'mtime', now)
return ns_reply('OK', now, '', {mode, tonumber(ARGV[3]), gid, now, now})
