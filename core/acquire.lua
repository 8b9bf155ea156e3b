-- acquire.lua - take lock `node` as a lease or handle for a holder, or
-- queue for it, first come first served across the cluster.
--
-- KEYS: the lock layout (K_*): token, n:<ns>, f:<ns>, n:<path>, wr, wseq,
--       then (l, dx, ds, q, wx, ws) of the node and of every ancestor,
--       root first.
-- ARGV: A_ACQUIRE, declared in script_iface.h: HOLDER_ID, MODE 'x'|'s',
--       TTL_MS, FLAGS ('e' O_EXCL, 'w' wait: queue when busy, 'c'
--       confirm only: see below), LEAF (file
--       name in ns), NODE, NS_IS_ROOT '1'|'0', IS_DIR_LOCK '1'|'0',
--       HOLDER_NODE, UID, GID, PID, SESSION, KIND 'lease'|'handle',
--       KEEPALIVE, NOTE, LOCK_DELAY_MS (how long the lock stays unavailable
--       to others once this hold expires), WAITER_ID (unique per request, the same on every
--       re-check), WAITER_LEASE_MS, DAEMON_NODE, ABSORB_ID ('' none: a
--       handle lock asked for by a process whose own lease holds the lock
--       converts that lease instead of waiting behind itself), then from
--       GROUPS on the caller's supplementary groups (gids), one each
--
-- Taking a lock, new or already held, and queueing for one need write and
-- search permission on its namespace (may_lock): EACCES at once.
-- A request is granted when no live holder conflicts with it along the
-- tree and no live waiter that queued before it conflicts either; so a
-- waiting request also blocks later conflicting requests.  A queued
-- request calls again (same waiter id) whenever it may have become
-- grantable; each call renews its waiter lease.
--
-- A queued request may be granted by the call that ends the hold ahead of
-- it (lib_wait.lua's grant_waiting): a provisional hold marked with its
-- waiter id.  Its next call with that waiter id confirms it: the hold gets
-- its full ttl and the reply says 'new', as if this call had made it.
-- With 'c' the call only confirms: ESTALE 'lost' when the hold is gone,
-- and nothing is queued or granted.
--
-- A lock file directly in a namespace with a limit (user.lockfs.limit) is
-- granted only while fewer locks than that are held there and no request
-- the limit held back came before (blocker "s|<expiry>|<namespace>").
--
-- A blocking request whose wait would close a cycle (it waits for someone
-- who, through holders and their waiting requests, waits for something its
-- requester holds) is refused: EDEADLK, nothing queued.
--
-- Replies (lock payload = the lock after the call):
--   OK new | OK renewed   granted now, or already held by this holder
--   EEXIST                O_EXCL and the file exists (held, or a lock
--                         file that exists unheld: file.lua)
--   EAGAIN                busy; with 'w' the request is queued and extra
--                         is "<h|w>|<blocker expiry ms>|<blocker>": the
--                         blocking holder's lock node, or waiter's id
--   ENOENT | EISDIR       the namespace is gone | the path is a namespace
--   with 'p': OK free | OK held (by this holder) | EAGAIN (it would wait)
local A = A_ACQUIRE
local id, mode, ttl = ARGV[A.HOLDER_ID], ARGV[A.MODE], tonumber(ARGV[A.TTL_MS])
local excl = string.find(ARGV[A.FLAGS], 'e', 1, true) ~= nil
local wait = string.find(ARGV[A.FLAGS], 'w', 1, true) ~= nil
local confirm = string.find(ARGV[A.FLAGS], 'c', 1, true) ~= nil
local probe = string.find(ARGV[A.FLAGS], 'p', 1, true) ~= nil
local leaf, node, wid = ARGV[A.LEAF], ARGV[A.NODE], ARGV[A.WAITER_ID]
local now = now_ms()

local ns = ns_attrs(KEYS[K_NS], ARGV[A.NS_IS_ROOT] == '1')
if not ns then
  unqueue(wid)
  return plain_reply(STATUS.ENOENT, now)
end
if not may_lock(ns, tonumber(ARGV[A.UID]), group_set(tonumber(ARGV[A.GID]), A.GROUPS)) then
  unqueue(wid)
  return plain_reply(STATUS.EACCES, now)
end
if ARGV[A.IS_DIR_LOCK] ~= '1' and redis.call('EXISTS', KEYS[K_PATHNS]) == 1 then
  unqueue(wid)
  return plain_reply(STATUS.EISDIR, now)
end

local holders = live_holders(KEYS[K_L], now)
local mine = find_holder(holders, id)
if confirm and not mine then
  unqueue(wid)
  return plain_reply(STATUS.ESTALE, now, WORD.LOST)
end
if excl and not (mine and mine.pw == wid) and
   (#holders > 0 or file_record(files_key(node, leaf), leaf)) then
  unqueue(wid)
  return lock_reply(STATUS.EEXIST, now, WORD.NONE, holders, waiter_count())
end
if probe and mine then return plain_reply(STATUS.OK, now, WORD.HELD) end
if mine then
  -- a grant made for this very request is new to it; any other request
  -- of the same holder claims the hold too, so a withdrawal of the first
  -- can no longer undo it
  local extra = WORD.RENEWED
  if mine.pw == wid and wid ~= '' then extra = WORD.NEW end
  unqueue(wid)
  mine.pw = nil
  mine.ren = now
  mine.exp = now + mine.ttl
  save_holders(KEYS[K_L], holders)
  reindex(holders, leaf, node, now)
  return lock_reply(STATUS.OK, now, extra, holders, waiter_count())
end

local absorbed = false
if ARGV[A.ABSORB_ID] and ARGV[A.ABSORB_ID] ~= '' then
  local lease, at = find_holder(holders, ARGV[A.ABSORB_ID])
  if lease then
    table.remove(holders, at)
    absorbed = not holders_conflict(holders, id, mode)
    if not absorbed then table.insert(holders, at, lease) end
  end
end

-- Who blocks this request (lib_wait.lua's find_blocker)?
local me = live_waiter(wid, now)
local r = me and me.seq or nil
local blocker = find_blocker(the_lock(node, leaf, mode), holders, id, wid,
                             r, now, absorbed)
-- a namespace with a limit: a free slot, and no request it held back
-- earlier (lib_wait.lua's semaphores)
local sq = nil
if not blocker then
  blocker, sq = semaphore_blocker(the_lock(node, leaf, mode), ns[6], wid, r,
                                  now)
end
if probe then
  if blocker then return plain_reply(STATUS.EAGAIN, now, WORD.NONE) end
  return plain_reply(STATUS.OK, now, WORD.FREE)
end

if blocker then
  if not wait then
    return lock_reply(STATUS.EAGAIN, now, WORD.NONE, holders, waiter_count(),
                      delayed_until(KEYS[K_L], id))
  end
  local first = not me
  local who = who_of(ARGV[A.KIND], id, ARGV[A.HOLDER_NODE], ARGV[A.PID])
  if first then
    -- a wait that would close a cycle of owners waiting on each other is
    -- refused at once (lib_wait.lua's would_deadlock)
    if would_deadlock(who, id, {{holders = holders, mode = mode, node = node}},
                      blocker, now) then
      return plain_reply(STATUS.EDEADLK, now, blocker)
    end
    me = {id = wid, lnode = node, mode = mode, dnode = ARGV[A.DAEMON_NODE],
          seq = redis.call('INCR', KEYS[K_WSEQ]),
          h = request_holder(A, excl), since = now}
    redis.call('SADD', tree_key('wo', who), wid)
  end
  expire_at_least(tree_key('wo', who), now + tonumber(ARGV[A.WAITER_LEASE_MS]))
  me.exp = now + tonumber(ARGV[A.WAITER_LEASE_MS])
  if sq and not me.sq then -- held back by the limit: in its queue too
    local _, nspath = blocker_parts(blocker)
    me.sq = nspath
    redis.call('ZADD', sq, me.seq, wid)
  end
  if me.sq then expire_at_least(tree_key('sq', me.sq), me.exp) end
  redis.call('HSET', KEYS[K_WR], wid, cmsgpack.pack(me))
  queue_at(the_lock(node, leaf, mode), me, first)
  return lock_reply(STATUS.EAGAIN, now, blocker, holders, waiter_count(),
                    delayed_until(KEYS[K_L], id))
end

local notices = {}
if me and me.sq then notices[1] = semaphore_left(me) end
unqueue(wid)
local tok = redis.call('INCR', KEYS[K_TOKEN])
holders[#holders + 1] = {
  id = id, node = ARGV[A.HOLDER_NODE], uid = tonumber(ARGV[A.UID]),
  gid = tonumber(ARGV[A.GID]), pid = tonumber(ARGV[A.PID]),
  sid = tonumber(ARGV[A.SESSION]), kind = ARGV[A.KIND], mode = mode, tok = tok,
  acq = now, ren = now, exp = now + ttl, ttl = ttl, ka = ARGV[A.KEEPALIVE],
  note = ARGV[A.NOTE] or '', dl = tonumber(ARGV[A.LOCK_DELAY_MS]) or 0
}
save_holders(KEYS[K_L], holders)
reindex(holders, leaf, node, now)
return with_grants(lock_reply(STATUS.OK, now, WORD.NEW, holders,
                              waiter_count()), notices)
