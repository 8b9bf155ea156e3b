-- list.lua - the entries of a namespace: child namespaces, held locks and
-- the lock files that exist unheld (file.lua).
--
-- KEYS: 1 n:<ns>, 2 c:<ns>, 3 tx:<ns>, 4 ts:<ns>, 5 f:<ns>
-- ARGV: 1 ns is the root '1'|'0', 2 'flock' for the flock view: a lock
--       held only as handle locks shows there only while its file exists,
--       3 the key of l:<ns> (a lock's l key is it, '/', its name)
-- The held locks are the live entries of the namespace's summaries that
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
local listed = {}
local function file(name)
  if not listed[name] then
    listed[name] = true
    r[#r + 1] = name
    r[#r + 1] = 'f'
  end
end
for _, name in ipairs(redis.call('HKEYS', KEYS[5])) do file(name) end
for _, key in ipairs({KEYS[3], KEYS[4]}) do
  zlive(key, now)
  for _, name in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(name, -1) ~= '/' and not listed[name] then
      local lkey = ARGV[3]
      if name ~= '.lock' then
        if ARGV[1] ~= '1' then lkey = lkey .. '/' end
        lkey = lkey .. name
      end
      if ARGV[2] ~= 'flock' or has_lease(live_holders(lkey, now)) then
        file(name)
      end
    end
  end
end
r[5] = (#r - 5) / 2
return r
