-- acquire_set.lua - a lock set (the README): take every member as a
-- lease of owner HOLDER_ID, or none; queue for all of them at once when
-- busy (one waiter entry in every member's queues), FIFO as acquire.lua.
-- Also withdraws such a queued set (flag 'd').
--
-- KEYS: the fixed keys of the lock layout (K_TOKEN, K_WR, K_WSEQ; the
--       slots of one lock's namespace keys repeat the token), then for
--       each member in ARGV order, K_SET_MEMBER (script_iface.h): NS
--       n:<ns>, PATHNS n:<path>, and from LOCK on the l, tx, ts, q, wx, ws
--       of its node, then of each of its ancestors, root first.
-- ARGV: A_ACQUIRE_SET (script_iface.h): HOLDER_ID (the owner), TTL_MS,
--       FLAGS ('w' wait, 'd' withdraw), WAITER_ID, WAITER_LEASE_MS,
--       DAEMON_NODE, HOLDER_NODE, UID, GID, PID, SESSION, KEEPALIVE,
--       NMEMBERS; from MEMBERS on, per member A_SET_MEMBER: MODE 'x'|'s',
--       LEAF, NODE, NS_IS_ROOT, IS_DIR_LOCK, NANCESTORS; then the caller's
--       groups (gids), one each.
-- The kernel checks permissions for files, not for the members of a set,
-- so this script does what it would for creating each one: write and
-- search permission on the member's namespace (root may do anything).
-- Replies: OK 'new' with kind 'T' and one token per member; EAGAIN (with
-- 'w': queued, extra names the blocker as in acquire.lua); ENOENT; EISDIR;
-- EACCES.
local A, KM, AM = A_ACQUIRE_SET, K_SET_MEMBER, A_SET_MEMBER
local id, ttl = ARGV[A.HOLDER_ID], tonumber(ARGV[A.TTL_MS])
local flags, wid = ARGV[A.FLAGS], ARGV[A.WAITER_ID]
local wait = string.find(flags, 'w', 1, true) ~= nil
local now = now_ms()
local members = {}
-- the first member's keys follow the fixed ones, its arguments the set's
local k, a = K_NFIXED + 1, A.MEMBERS
for i = 1, tonumber(ARGV[A.NMEMBERS]) do
  local m = {mode = ARGV[a + AM.MODE], leaf = ARGV[a + AM.LEAF],
             node = ARGV[a + AM.NODE],
             nsroot = ARGV[a + AM.NS_IS_ROOT] == '1',
             dirlock = ARGV[a + AM.IS_DIR_LOCK] == '1',
             nanc = tonumber(ARGV[a + AM.NANCESTORS]), base = k}
  m.anc = k + KM.LOCK + K_STRIDE
  -- its keys: n:<ns> at base + NS, n:<path> base + PATHNS, then its own
  -- l ... ws from base + LOCK, then its ancestors'
  m.lock = lock_at(k + KM.LOCK, m.anc, m.nanc, m.node, m.leaf, m.mode)
  k = m.anc + K_STRIDE * m.nanc
  a = a + AM.N
  members[i] = m
end

local who = who_of('lease', id)

local function unqueue_set()
  redis.call('HDEL', KEYS[K_WR], wid)
  redis.call('SREM', tree_key('wo', who), wid)
  for _, m in ipairs(members) do unqueue_at(m.lock, wid) end
end

local uid = tonumber(ARGV[A.UID])
local groups = group_set(tonumber(ARGV[A.GID]), a)

if string.find(flags, 'd', 1, true) then
  unqueue_set()
  return plain_reply(STATUS.OK, now, WORD.REMOVED)
end

for _, m in ipairs(members) do
  local ns = ns_attrs(KEYS[m.base + KM.NS], m.nsroot)
  if not ns then
    unqueue_set()
    return plain_reply(STATUS.ENOENT, now)
  end
  if not may_lock(ns, uid, groups) then
    unqueue_set()
    return plain_reply(STATUS.EACCES, now)
  end
  m.limit = ns[6]
  if not m.dirlock and redis.call('EXISTS', KEYS[m.base + KM.PATHNS]) == 1 then
    unqueue_set()
    return plain_reply(STATUS.EISDIR, now)
  end
end

local me = live_waiter(wid, now)
local r = me and me.seq or nil

local blocker = nil
for _, m in ipairs(members) do
  m.holders = live_holders(KEYS[m.lock.at], now)
  blocker = blocker or find_blocker(m.lock, m.holders, id, wid, r, now,
                                    false)
  -- each member against its namespace's limit, on its own
  blocker = blocker or semaphore_blocker(m.lock, m.limit, wid, r, now)
end

if blocker then
  if not wait then return plain_reply(STATUS.EAGAIN, now) end
  local first = not me
  if first then
    -- a wait that would close a cycle of owners waiting on each other is
    -- refused at once, as in acquire.lua (every member counts)
    if would_deadlock(who, id, members, blocker, now) then
      return plain_reply(STATUS.EDEADLK, now, blocker)
    end
    local sn, sm = {}, {}
    for i, m in ipairs(members) do sn[i], sm[i] = m.node, m.mode end
    me = {id = wid, lnode = members[1].node, mode = 'x', dnode = ARGV[A.DAEMON_NODE],
          sn = sn, sm = sm,
          seq = redis.call('INCR', KEYS[K_WSEQ]), since = now,
          -- who asks (a set: granted only by its own re-check)
          h = {id = id, node = ARGV[A.HOLDER_NODE], uid = uid,
               pid = tonumber(ARGV[A.PID]),
               sid = tonumber(ARGV[A.SESSION]),
               kind = 'lease', set = true}}
  end
  me.exp = now + tonumber(ARGV[A.WAITER_LEASE_MS])
  redis.call('SADD', tree_key('wo', who), wid)
  expire_at_least(tree_key('wo', who), me.exp)
  redis.call('HSET', KEYS[K_WR], wid, cmsgpack.pack(me))
  for _, m in ipairs(members) do
    -- in each member's queues as that member's mode
    queue_at(m.lock, {id = wid, seq = me.seq, exp = me.exp, mode = m.mode},
             first)
  end
  return plain_reply(STATUS.EAGAIN, now, blocker)
end

unqueue_set()
local r2 = {STATUS.OK, now, WORD.NEW, KIND.TOKENS, #members}
for _, m in ipairs(members) do
  local mine = find_holder(m.holders, id)
  if mine then
    mine.ren = now
    mine.exp = now + mine.ttl
  else
    mine = {id = id, node = ARGV[A.HOLDER_NODE], uid = uid,
            gid = tonumber(ARGV[A.GID]), pid = tonumber(ARGV[A.PID]),
            sid = tonumber(ARGV[A.SESSION]), kind = 'lease', mode = m.mode,
            tok = redis.call('INCR', KEYS[K_TOKEN]), acq = now, ren = now,
            exp = now + ttl, ttl = ttl, ka = ARGV[A.KEEPALIVE], note = ''}
    m.holders[#m.holders + 1] = mine
  end
  save_holders(KEYS[m.lock.at], m.holders)
  reindex_at(m.lock, m.holders, now)
  r2[#r2 + 1] = mine.tok
end
return r2
