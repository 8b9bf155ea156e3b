-- setattr.lua - chmod/chown of namespace <path>, or its semaphore's limit
-- (the extended attribute user.lockfs.limit).
--
-- KEYS: 1 n:<path>
-- ARGV: 1 path is the root '1'|'0', 2 mode or '', 3 uid or '', 4 gid or '',
--       5 limit or '' (0: none), 6 the caller's uid, for a limit: only the
--       namespace's owner or root may set it
-- Replies: OK 'N' attrs; ENOENT; EPERM.
local now = now_ms()
local a = ns_attrs(KEYS[1], ARGV[1] == '1')
if not a then return plain_reply('ENOENT', now) end
if ARGV[5] ~= '' then
  local caller = tonumber(ARGV[6])
  if caller ~= 0 and caller ~= a[2] then return plain_reply('EPERM', now) end
  a[6] = tonumber(ARGV[5])
end
if ARGV[2] ~= '' then a[1] = tonumber(ARGV[2]) end
if ARGV[3] ~= '' then a[2] = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then a[3] = tonumber(ARGV[4]) end
a[5] = now
redis.call('HSET', KEYS[1], 'mode', a[1], 'uid', a[2], 'gid', a[3],
           'ctime', a[4], 'mtime', a[5], 'limit', a[6])
return ns_reply('OK', now, '', a)
