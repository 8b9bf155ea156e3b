-- release.lua - end the hold of ARGV[1] on lock `node` (unlink by its owner,
-- the end of a keepalive session, a handle unlock), or break every hold
-- (unlink by root, ARGV[3] = '1').
--
-- KEYS: the lock layout of lib.lua (as acquire.lua).
-- ARGV: 1 holder id, 2 token ('0' = any grant), 3 force '1'|'0', 4 leaf,
--       5 node
-- Replies: OK 'released' | OK 'broken' with the lock payload listing the
-- holds that ended; ENOENT when nobody holds it; ESTALE when ARGV[1] holds
-- another grant than ARGV[2]; EPERM when others hold it and force is off.
local id, tok, force = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_ms()
local holders = live_holders(KEYS[K_L], now)
if #holders == 0 then return plain_reply('ENOENT', now) end
local mine, at = find_holder(holders, id)
local ended, extra
if mine and (tok == 0 or mine.tok == tok) then
  ended = {mine}
  table.remove(holders, at)
  extra = 'released'
elseif mine and not force then
  return lock_reply('ESTALE', now, 'held', holders)
elseif force then
  ended = holders
  holders = {}
  extra = 'broken'
else
  return lock_reply('EPERM', now, '', holders)
end
save_holders(KEYS[K_L], holders)
reindex(holders, KEYS[K_F], ARGV[4], ARGV[5])
return lock_reply('OK', now, extra, ended)
