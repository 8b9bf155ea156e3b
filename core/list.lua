-- list.lua - the entries of a namespace: child namespaces, held locks and
-- the lock files that exist unheld (file.lua).
--
-- KEYS: K_LIST (script_iface.h): NS n:<ns>, CHILDREN c:<ns>, TX tx:<ns>,
--       TS ts:<ns>, FILES f:<ns>
-- ARGV: A_LIST: IS_ROOT (ns) '1'|'0', VIEW 'flock' for the flock view: a
--       lock held only as handle locks shows there only while its file
--       exists, LOCK_PREFIX the key of l:<ns> (a lock's l key is it, '/',
--       its name)
-- The held locks are the live entries of the namespace's summaries that
-- are not child namespaces (those end in '/'; lib.lua).
-- Reply: OK 'D' count, then (name, 'd'|'f') pairs; ENOENT if ns is gone.
local K, A = K_LIST, A_LIST
local now = now_ms()
if not ns_attrs(KEYS[K.NS], ARGV[A.IS_ROOT] == '1') then
  return plain_reply(STATUS.ENOENT, now)
end
local r = {STATUS.OK, now, WORD.NONE, KIND.LISTING, 0}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[K.CHILDREN])) do
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
for _, name in ipairs(redis.call('HKEYS', KEYS[K.FILES])) do file(name) end
for _, key in ipairs({KEYS[K.TX], KEYS[K.TS]}) do
  zlive(key, now)
  for _, name in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(name, -1) ~= '/' and not listed[name] then
      local lkey = ARGV[A.LOCK_PREFIX]
      if name ~= '.lock' then
        if ARGV[A.IS_ROOT] ~= '1' then lkey = lkey .. '/' end
        lkey = lkey .. name
      end
      if ARGV[A.VIEW] ~= 'flock' or has_lease(live_holders(lkey, now)) then
        file(name)
      end
    end
  end
end
r[5] = (#r - 5) / 2
return r
