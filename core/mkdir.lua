-- mkdir.lua - create namespace <path> in <parent>.
--
-- KEYS: K_MKDIR (script_iface.h): PARENT_NS n:<parent>, PARENT_CHILDREN
--       c:<parent>, NS n:<path>, LOCK l:<path>, PARENT_FILES f:<parent>
-- ARGV: A_MKDIR: LEAF, MODE, UID, GID, PARENT_IS_ROOT '1'|'0'
-- A set-group-id parent passes its group and the bit on, as on ext4.
-- Replies: OK 'N' attrs; ENOENT (no parent); EEXIST (a namespace, a held
-- lock or a lock file that exists unheld has that name).
local K, A = K_MKDIR, A_MKDIR
local now = now_ms()
local parent = ns_attrs(KEYS[K.PARENT_NS], ARGV[A.PARENT_IS_ROOT] == '1')
if not parent then return plain_reply(STATUS.ENOENT, now) end
if redis.call('EXISTS', KEYS[K.NS]) == 1 or
   #live_holders(KEYS[K.LOCK], now) > 0 or
   redis.call('HEXISTS', KEYS[K.PARENT_FILES], ARGV[A.LEAF]) == 1 then
  return plain_reply(STATUS.EEXIST, now)
end
local mode, gid = tonumber(ARGV[A.MODE]), tonumber(ARGV[A.GID])
if math.floor(parent[1] / 1024) % 2 == 1 then -- S_ISGID (02000)
  gid = parent[3]
  if mode % 2048 < 1024 then mode = mode + 1024 end
end
redis.call('HSET', KEYS[K.NS], 'mode', mode, 'uid', tonumber(ARGV[A.UID]),
           'gid', gid, 'ctime', now, 'mtime', now)
redis.call('SADD', KEYS[K.PARENT_CHILDREN], ARGV[A.LEAF])
redis.call('HSET', KEYS[K.PARENT_NS], 'mode', parent[1], 'uid', parent[2],
           'gid', parent[3], 'ctime', parent[4], 'mtime', now)
return ns_reply(STATUS.OK, now, WORD.NONE,
                {mode, tonumber(ARGV[A.UID]), gid, now, now})
