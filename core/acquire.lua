-- acquire.lua - take lock `node` as a lease or handle of holder ARGV[1].
--
-- KEYS: 1 token, 2 n:<ns>, 3 f:<ns>, 4 n:<path>, 5 l:<node>, 6 dx:<node>,
--       7 ds:<node>, then (l, dx, ds) of every ancestor of node, root first.
-- ARGV: 1 holder id, 2 mode 'x'|'s', 3 ttl ms, 4 flags ('e' = O_EXCL),
--       5 leaf (file name in ns), 6 node, 7 ns is root '1'|'0',
--       8 path is a directory lock '1'|'0', 9 holder node, 10 uid, 11 gid,
--       12 pid, 13 session, 14 kind 'lease'|'handle', 15 keepalive, 16 note
-- Replies (lock payload = the lock after the call):
--   OK new | OK renewed   granted now, or already held by this holder
--   EEXIST                O_EXCL and the file exists
--   EAGAIN                held by another holder or blocked along the tree
--   ENOENT                the namespace is gone
--   EISDIR                the path names a namespace
local id, mode, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local excl = string.find(ARGV[4], 'e', 1, true) ~= nil
local leaf, node = ARGV[5], ARGV[6]
local now = now_ms()

if not ns_attrs(KEYS[2], ARGV[7] == '1') then
  return plain_reply('ENOENT', now)
end
if ARGV[8] ~= '1' and redis.call('EXISTS', KEYS[4]) == 1 then
  return plain_reply('EISDIR', now)
end

local holders = live_holders(KEYS[5], now)
local mine = find_holder(holders, id)
if mine then
  if excl then return lock_reply('EEXIST', now, '', holders) end
  mine.ren = now
  mine.exp = now + mine.ttl
  save_holders(KEYS[5], holders)
  reindex(holders, KEYS[3], leaf, node, 8)
  return lock_reply('OK', now, 'renewed', holders)
end
if holders_conflict(holders, id, mode) then
  if excl then return lock_reply('EEXIST', now, '', holders) end
  return lock_reply('EAGAIN', now, '', holders)
end
for k = 8, #KEYS, 3 do
  if holders_conflict(live_holders(KEYS[k], now), id, mode) then
    return lock_reply('EAGAIN', now, 'ancestor', holders)
  end
end
if zlive(KEYS[6], now) > 0 or (mode == 'x' and zlive(KEYS[7], now) > 0) then
  return lock_reply('EAGAIN', now, 'descendant', holders)
end

local tok = redis.call('INCR', KEYS[1])
holders[#holders + 1] = {
  id = id, node = ARGV[9], uid = tonumber(ARGV[10]),
  gid = tonumber(ARGV[11]), pid = tonumber(ARGV[12]),
  sid = tonumber(ARGV[13]), kind = ARGV[14], mode = mode, tok = tok,
  acq = now, ren = now, exp = now + ttl, ttl = ttl, ka = ARGV[15],
  note = ARGV[16] or ''
}
save_holders(KEYS[5], holders)
reindex(holders, KEYS[3], leaf, node, 8)
return lock_reply('OK', now, 'new', holders)
