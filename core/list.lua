-- list.lua - the entries of a namespace: child namespaces and held locks.
--
-- KEYS: 1 n:<ns>, 2 c:<ns>, 3 f:<ns>
-- ARGV: 1 ns is the root '1'|'0'
-- Reply: OK 'D' count, then (name, 'd'|'f') pairs; ENOENT if ns is gone.
local now = now_ms()
if not ns_attrs(KEYS[1], ARGV[1] == '1') then
  return plain_reply('ENOENT', now)
end
local r = {'OK', now, '', 'D', 0}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  r[#r + 1] = name
  r[#r + 1] = 'd'
end
zlive(KEYS[3], now)
for _, name in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  r[#r + 1] = name
  r[#r + 1] = 'f'
end
r[5] = (#r - 5) / 2
return r
