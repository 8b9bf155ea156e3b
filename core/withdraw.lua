-- withdraw.lua - take a waiting request out of every queue (interrupted,
-- timed out, or its daemon shutting down).
--
-- KEYS: the lock layout of lib.lua.
-- ARGV: A_WITHDRAW (script_iface.h): WAITER_ID, LEAF, NODE
-- A grant another call made to the request (provisional: its daemon has
-- not confirmed it) is undone, and the lock goes on to the next requests
-- it lets through (lib_wait.lua's grant_waiting; the reply ends with those
-- grants).
-- Replies: OK 'removed' | OK 'absent'.
local A = A_WITHDRAW
local wid, leaf, node = ARGV[A.WAITER_ID], ARGV[A.LEAF], ARGV[A.NODE]
local now = now_ms()
local rec = live_waiter(wid, now)
local was = rec ~= nil
local notices = {}
if rec and rec.sq then notices[1] = semaphore_left(rec) end
unqueue(wid)
local holders = live_holders(KEYS[K_L], now)
local undone = false
for i, h in ipairs(holders) do
  if h.pw == wid then
    table.remove(holders, i)
    was, undone = true, true
    break
  end
end
local grants = grant_waiting(node, leaf, holders, now)
for _, n in ipairs(notices) do grants[#grants + 1] = n end
if undone or #grants > 0 then
  save_holders(KEYS[K_L], holders)
  reindex(holders, leaf, node, now)
end
local extra = WORD.ABSENT
if was then extra = WORD.REMOVED end
return with_grants(plain_reply(STATUS.OK, now, extra), grants)
