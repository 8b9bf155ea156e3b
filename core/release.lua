-- release.lua - end the hold of HOLDER_ID on lock `node` (unlink by its
-- owner, the end of a keepalive session, a handle unlock), or break every
-- hold (unlink by root, FORCE = '1').
--
-- KEYS: the lock layout of lib.lua (as acquire.lua).
-- ARGV: A_RELEASE (script_iface.h): HOLDER_ID, TOKEN: the grant the caller
--       believes it holds ('0' = it knows of none), FORCE '1'|'0', LEAF,
--       NODE, UNLINK '1'|'0' (an unlink: a lock file that exists unheld,
--       file.lua, goes)
--
-- A caller that names a grant it no longer holds lost its lock (expiry, a
-- break) and must hear ESTALE, whoever holds the lock now and even with
-- force: a paused holder never releases or breaks its successor's lock.
-- The lock then goes at once to the requests queued for it that it lets
-- through (lib_wait.lua's grant_waiting); the reply ends with those
-- grants.
-- Replies: OK 'released' | OK 'broken' with the lock payload listing the
-- holds that ended (and whether a queued request may sleep on its
-- releases: lib_wait.lua's waiters_near); ESTALE ('held': it holds
-- another grant; 'lost': it holds none) when TOKEN names a grant that is
-- gone; ENOENT when nobody holds it (OK 'unlinked' when UNLINK took its
-- unheld lock file away); EPERM when others hold it and force is off.
local A = A_RELEASE
local id, tok, force = ARGV[A.HOLDER_ID], tonumber(ARGV[A.TOKEN]), ARGV[A.FORCE] == '1'
local now = now_ms()
local holders = live_holders(KEYS[K_L], now)
local mine, at = find_holder(holders, id)
if mine and tok ~= 0 and mine.tok ~= tok then
  return lock_reply(STATUS.ESTALE, now, WORD.HELD, holders)
end
if not mine and tok ~= 0 then
  if #holders == 0 then return plain_reply(STATUS.ESTALE, now, WORD.LOST) end
  return lock_reply(STATUS.ESTALE, now, WORD.LOST, holders)
end
if #holders == 0 then
  local files = files_key(ARGV[A.NODE], ARGV[A.LEAF])
  if ARGV[A.UNLINK] == '1' and redis.call('HDEL', files, ARGV[A.LEAF]) == 1 then
    return plain_reply(STATUS.OK, now, WORD.UNLINKED)
  end
  return plain_reply(STATUS.ENOENT, now)
end
local ended, extra
if mine then
  ended = {mine}
  table.remove(holders, at)
  extra = WORD.RELEASED
elseif force then
  ended = holders
  holders = {}
  extra = WORD.BROKEN
else
  return lock_reply(STATUS.EPERM, now, WORD.NONE, holders)
end
local grants = grant_waiting(ARGV[A.NODE], ARGV[A.LEAF], holders, now)
-- a slot of a semaphore came free: wake the requests it holds back
local nspath = semaphore_of(the_lock(ARGV[A.NODE], ARGV[A.LEAF], 'x'))
if nspath and (tonumber(redis.call('HGET', KEYS[K_NS], 'limit') or 0) or 0) > 0 then
  grants[#grants + 1] = {WORD.WAKE, nspath}
end
save_holders(KEYS[K_L], holders)
reindex(holders, ARGV[A.LEAF], ARGV[A.NODE], now)
return with_grants(lock_reply(STATUS.OK, now, extra, ended, nil, nil, nil, nil,
                              waiters_near(the_lock(ARGV[A.NODE],
                                                    ARGV[A.LEAF], 'x'))),
                   grants)
