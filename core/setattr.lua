-- setattr.lua - chmod/chown of namespace <path>.
--
-- KEYS: 1 n:<path>
-- ARGV: 1 path is the root '1'|'0', 2 mode or '', 3 uid or '', 4 gid or ''
-- Replies: OK 'N' attrs; ENOENT.
local now = now_ms()
local a = ns_attrs(KEYS[1], ARGV[1] == '1')
if not a then return plain_reply('ENOENT', now) end
if ARGV[2] ~= '' then a[1] = tonumber(ARGV[2]) end
if ARGV[3] ~= '' then a[2] = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then a[3] = tonumber(ARGV[4]) end
a[5] = now
redis.call('HSET', KEYS[1], 'mode', a[1], 'uid', a[2], 'gid', a[3],
           'ctime', a[4], 'mtime', a[5])
return ns_reply('OK', now, '', a)
