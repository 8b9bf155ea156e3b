-- list.lua - the entries of a namespace: child namespaces and held locks.
--
-- KEYS: 1 n:<ns>, 2 c:<ns>, 3 tx:<ns>, 4 ts:<ns>
-- ARGV: 1 ns is the root '1'|'0'
-- The lock files are the live entries of the namespace's summaries that
-- are not child namespaces (those end in '/'; lib.lua).
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
for _, key in ipairs({KEYS[3], KEYS[4]}) do
  zlive(key, now)
  for _, name in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(name, -1) ~= '/' then
      r[#r + 1] = name
      r[#r + 1] = 'f'
    end
  end
end
r[5] = (#r - 5) / 2
return r
