-- setattr.lua - chmod/chown of namespace <path>, or its semaphore's limit
-- (the extended attribute user.lockfs.limit).
--
-- KEYS: K_SETATTR (script_iface.h): NS n:<path>
-- ARGV: A_SETATTR: IS_ROOT (the path) '1'|'0', MODE, UID, GID, LIMIT (''
--       each: unchanged; a LIMIT of 0: none), CALLER_UID, for a limit: only
--       the namespace's owner or root may set it
-- Replies: OK 'N' attrs; ENOENT; EPERM.
local K, A = K_SETATTR, A_SETATTR
local now = now_ms()
local a = ns_attrs(KEYS[K.NS], ARGV[A.IS_ROOT] == '1')
if not a then return plain_reply(STATUS.ENOENT, now) end
if ARGV[A.LIMIT] ~= '' then
  local caller = tonumber(ARGV[A.CALLER_UID])
  if caller ~= 0 and caller ~= a[2] then
    return plain_reply(STATUS.EPERM, now)
  end
  a[6] = tonumber(ARGV[A.LIMIT])
end
if ARGV[A.MODE] ~= '' then a[1] = tonumber(ARGV[A.MODE]) end
if ARGV[A.UID] ~= '' then a[2] = tonumber(ARGV[A.UID]) end
if ARGV[A.GID] ~= '' then a[3] = tonumber(ARGV[A.GID]) end
a[5] = now
redis.call('HSET', KEYS[K.NS], 'mode', a[1], 'uid', a[2], 'gid', a[3],
           'ctime', a[4], 'mtime', a[5], 'limit', a[6])
return ns_reply(STATUS.OK, now, WORD.NONE, a)
