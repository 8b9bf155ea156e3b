-- renew.lua - renew the hold of HOLDER_ID on lock `node`, optionally changing
-- its ttl, keepalive and note (a write, truncate or utimens on the file, or
-- the daemon's keepalive).
--
-- KEYS: the lock layout of lib.lua (as acquire.lua).
-- ARGV: A_RENEW (script_iface.h): HOLDER_ID, TOKEN ('0' = whichever grant
--       this holder has), TTL_MS ('' = keep), KEEPALIVE ('' = keep),
--       SET_NOTE '1' to set the note, NOTE, LEAF, NODE, LOCK_DELAY_MS
--       ('' = keep)
-- Replies: OK (lock payload after the renewal); ESTALE when the holder no
-- longer holds that grant: extra 'held' if someone else holds the lock now,
-- 'free' otherwise.
local A = A_RENEW
local id, tok = ARGV[A.HOLDER_ID], tonumber(ARGV[A.TOKEN])
local now = now_ms()
local holders = live_holders(KEYS[K_L], now)
local mine = find_holder(holders, id)
if not mine or (tok ~= 0 and mine.tok ~= tok) then
  local extra = WORD.FREE
  if #holders > 0 then extra = WORD.HELD end
  return lock_reply(STATUS.ESTALE, now, extra, holders, waiter_count())
end
if ARGV[A.TTL_MS] ~= '' then mine.ttl = tonumber(ARGV[A.TTL_MS]) end
if ARGV[A.KEEPALIVE] ~= '' then mine.ka = ARGV[A.KEEPALIVE] end
if ARGV[A.SET_NOTE] == '1' then mine.note = ARGV[A.NOTE] end
if ARGV[A.LOCK_DELAY_MS] and ARGV[A.LOCK_DELAY_MS] ~= '' then
  mine.dl = tonumber(ARGV[A.LOCK_DELAY_MS])
end
mine.ren = now
mine.exp = now + mine.ttl
save_holders(KEYS[K_L], holders)
reindex(holders, ARGV[A.LEAF], ARGV[A.NODE], now)
return lock_reply(STATUS.OK, now, WORD.NONE, holders, waiter_count())
