-- renew.lua - renew the hold of ARGV[1] on lock `node`, optionally changing
-- its ttl, keepalive and note (a write, truncate or utimens on the file, or
-- the daemon's keepalive).
--
-- KEYS: the lock layout of lib.lua (as acquire.lua).
-- ARGV: 1 holder id, 2 token ('0' = whichever grant this holder has),
--       3 ttl ms ('' = keep), 4 keepalive ('' = keep), 5 '1' to set the
--       note, 6 note, 7 leaf, 8 node, 9 lock-delay ms ('' = keep)
-- Replies: OK (lock payload after the renewal); ESTALE when the holder no
-- longer holds that grant: extra 'held' if someone else holds the lock now,
-- 'free' otherwise.
local id, tok = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local holders = live_holders(KEYS[K_L], now)
local mine = find_holder(holders, id)
if not mine or (tok ~= 0 and mine.tok ~= tok) then
  local extra = 'free'
  if #holders > 0 then extra = 'held' end
  return lock_reply('ESTALE', now, extra, holders, waiter_count())
end
if ARGV[3] ~= '' then mine.ttl = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then mine.ka = ARGV[4] end
if ARGV[5] == '1' then mine.note = ARGV[6] end
if ARGV[9] and ARGV[9] ~= '' then mine.dl = tonumber(ARGV[9]) end
mine.ren = now
mine.exp = now + mine.ttl
save_holders(KEYS[K_L], holders)
reindex(holders, ARGV[7], ARGV[8], now)
return lock_reply('OK', now, '', holders, waiter_count())
