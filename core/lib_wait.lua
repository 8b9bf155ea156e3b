-- lib_wait.lua - the helpers of waiting every lockfs server-side script
-- shares: the queues of waiting requests, what blocks a request (and
-- whether its wait would close a cycle), the semaphores of namespaces with
-- a limit, and the grants a call hands to the requests at the head of a
-- queue.  It follows lib.lua in the library (embed-lua), whose helpers
-- and data model (the wr, wseq, q, wx, ws keys) it uses.

-- The record of live waiter `id`, or nil (a dead one is deleted).
local function live_waiter(id, now)
  local raw = redis.call('HGET', KEYS[K_WR], id)
  if not raw then return nil end
  local w = cmsgpack.unpack(raw)
  if w.exp <= now then
    redis.call('HDEL', KEYS[K_WR], id)
    return nil
  end
  return w
end

-- The latest waiter in seq-scored zset `key` that came before seq `r`
-- (nil: before everyone) and conflicts with `mode`; dead entries met on
-- the way are dropped.
local function nearest_waiter(key, r, mode, now, self)
  local cursor = '+inf'
  if r then cursor = '(' .. r end
  while true do
    local batch = redis.call('ZREVRANGEBYSCORE', key, cursor, '-inf',
                             'WITHSCORES', 'LIMIT', 0, 16)
    if #batch == 0 then return nil end
    for i = 1, #batch, 2 do
      local id = batch[i]
      local w = live_waiter(id, now)
      if not w then
        redis.call('ZREM', key, id)
      elseif id ~= self and not (mode == 's' and w.mode == 's') then
        return w
      end
      cursor = '(' .. batch[i + 1]
    end
  end
end

local QUEUE_LISTED = 200 -- a lock's info lists at most this many waiters

-- The first `max` live waiters of seq-scored queue `key`, in queue order,
-- as a lock reply lists them: {node, uid, pid, session, mode, since} each
-- (the requester `h` and `since`, recorded when it queued).
local function queue_listing(key, now, max)
  local list = {}
  for _, id in ipairs(redis.call('ZRANGE', key, 0, max - 1)) do
    local w = live_waiter(id, now)
    if w and w.h then
      list[#list + 1] = {w.h.node, w.h.uid, w.h.pid, w.h.sid, w.mode,
                         w.since}
    end
  end
  return list
end

-- How many waiters the lock node has (dead ones are dropped lazily).
local function waiter_count()
  return redis.call('ZCARD', KEYS[K_Q])
end

-- Lock `v`'s queue indexes of a waiter in `mode`: its own q, then the wx
-- (exclusive) or ws (shared) of each ancestor.
local function queue_keys(v, mode)
  local keys = {KEYS[v.at + K_Q - K_L]}
  local below = mode == 's' and K_WS or K_WX
  for j = 0, v.nanc - 1 do keys[#keys + 1] = KEYS[ancestor_key(v, j, below)] end
  return keys
end

-- Put waiter `w` (id, seq, mode) into lock `v`'s queues (`add`, once, when
-- it queues first) and make them live until its lease `w.exp` at least.
local function queue_at(v, w, add)
  for _, key in ipairs(queue_keys(v, w.mode)) do
    if add then redis.call('ZADD', key, w.seq, w.id) end
    expire_at_least(key, w.exp)
  end
end

-- Is any request queued where it may sleep on the releases of lock `v`
-- (blocked by it, by a hold below it, or by it below the request's own
-- directory lock)?  Its own queue, the queues below it, its ancestors'.
local function waiters_near(v)
  for _, k in ipairs({K_Q, K_WX, K_WS}) do
    if redis.call('ZCARD', KEYS[v.at + k - K_L]) > 0 then return true end
  end
  for j = 0, v.nanc - 1 do
    if redis.call('ZCARD', KEYS[ancestor_key(v, j, K_Q)]) > 0 then
      return true
    end
  end
  return false
end

-- Take waiter `id` out of every queue index of lock `v`.
local function unqueue_at(v, id)
  redis.call('ZREM', KEYS[v.at + K_Q - K_L], id)
  for j = 0, v.nanc - 1 do
    redis.call('ZREM', KEYS[ancestor_key(v, j, K_WX)], id)
    redis.call('ZREM', KEYS[ancestor_key(v, j, K_WS)], id)
  end
end

-- What holds a request back, as a reply's extra names it (script_iface.h's
-- BLOCKER_KINDS): "<kind>|<until ms>|<what>", a lock node (BLOCKER.HOLDER),
-- the id of a waiting request ahead (WAITER) or a namespace (SEMAPHORE).
local function blocker_of(kind, until_ms, what)
  return kind .. '|' .. until_ms .. '|' .. what
end

-- The kind and the what of blocker `b`.
local function blocker_parts(b)
  return string.match(b, '^([^|]*)|[^|]*|(.*)$')
end

-- ---- deadlocks ------------------------------------------------------------
-- Who waits, for the deadlock check: a lease's owner ("o:<owner id>"), or a
-- handle lock's process ("p:<node>:<pid>", flock/fcntl being per process).
-- wo:<who> is the set of that one's waiting requests.
local function who_of(kind, id, node, pid)
  if kind == 'handle' then return 'p:' .. node .. ':' .. pid end
  return 'o:' .. id
end

local function holder_who(h)
  return who_of(h.kind, h.id, h.node, h.pid)
end

local DEADLOCK_STEPS = 64 -- the walk's bound: waiting requests looked at

-- Would a request by `me` (who_of), blocked by holders `blocking` (and by
-- the requester of waiting request `wid_ahead`, if any), wait in a cycle:
-- someone it waits for waits, through any chain of holders and their
-- waiting requests, for something `me` holds?  A bounded walk over the
-- waiting requests (wo:<who>) and the holders of the locks they wait for.
local function deadlock(me, blocking, wid_ahead, now)
  local seen, frontier, steps = {[me] = true}, {}, 0
  local function push(who)
    if not seen[who] then
      seen[who] = true
      frontier[#frontier + 1] = who
    end
  end
  for _, h in ipairs(blocking) do push(holder_who(h)) end
  if wid_ahead then
    local w = live_waiter(wid_ahead, now)
    if w and w.h then push(holder_who(w.h)) end
  end
  while #frontier > 0 and steps < DEADLOCK_STEPS do
    local who = table.remove(frontier, 1)
    for _, wid in ipairs(redis.call('SMEMBERS', tree_key('wo', who))) do
      steps = steps + 1
      local w = live_waiter(wid, now)
      -- a lock set waits for every member (sn, sm: nodes and modes)
      local nodes, modes = w and (w.sn or {w.lnode}), w and (w.sm or {w.mode})
      for i = 1, w and #nodes or 0 do
        for _, h in ipairs(live_holders(tree_key('l', nodes[i]), now)) do
          if not (modes[i] == 's' and h.mode == 's') then
            if holder_who(h) == me then return true end
            push(holder_who(h))
          end
        end
      end
    end
  end
  return false
end

-- Would a request by holder `id` (who_of: `me`) for `locks` (each {holders, mode,
-- node}: the lock's live holders, the mode asked, its node), held back by
-- `blocker` ("h|<expiry>|<lock node>" or "w|<expiry>|<waiter id>", as
-- find_blocker says), wait in a cycle (deadlock)?  It waits for every
-- conflicting holder of those locks, for the holders of a blocking lock
-- elsewhere in the tree (an ancestor, a descendant), and for the
-- requester of the waiter ahead of it.
local function would_deadlock(me, id, locks, blocker, now)
  local blocking, ahead, elsewhere = {}, nil, true
  local kind, what = blocker_parts(blocker)
  for _, l in ipairs(locks) do
    for _, h in ipairs(l.holders) do
      if h.id ~= id and not (l.mode == 's' and h.mode == 's') then
        blocking[#blocking + 1] = h
      end
    end
    if l.node == what then elsewhere = false end
  end
  if kind == BLOCKER.WAITER then ahead = what end
  if kind == BLOCKER.HOLDER and elsewhere then
    for _, h in ipairs(live_holders(tree_key('l', what), now)) do
      blocking[#blocking + 1] = h
    end
  end
  return deadlock(me, blocking, ahead, now)
end

-- Take waiter `id` out of every index of this call's node.  A waiter
-- without a record has nothing to take out (the index entries of one
-- whose record died are dropped where they are met).
local function unqueue(id)
  if id == '' then return end
  local raw = redis.call('HGET', KEYS[K_WR], id)
  if not raw then return end
  redis.call('HDEL', KEYS[K_WR], id)
  local w = cmsgpack.unpack(raw)
  if w.h then -- in its requester's wo: (acquire.lua, acquire_set.lua)
    redis.call('SREM', tree_key('wo', holder_who(w.h)), id)
  end
  unqueue_at(the_lock('', '', 'x'), id)
end

local function first_conflict(holders, id, mode)
  for _, h in ipairs(holders) do
    if h.id ~= id and not (mode == 's' and h.mode == 's') then return h end
  end
  return nil
end

-- Who blocks holder `id` (request `wid`, queued at seq `r`, nil if not)
-- from taking lock `v` now, whose live holders are `holders`?  First an
-- earlier conflicting waiter, the nearest (so waiters form a chain and a
-- grant wakes one), then a conflicting holder of the lock, of an ancestor,
-- or below it.  "w|<expiry>|<waiter id>", "h|<expiry>|<lock node>" or nil.
-- `own_only`: only a holder of the lock itself counts (a conversion of the
-- caller's own lease is not a new request: nothing can be ahead of it).
local function find_blocker(v, holders, id, wid, r, now, own_only)
  local mode = v.mode
  if not own_only and redis.call('HLEN', KEYS[K_WR]) > 0 then
    local best = nil
    local function consider(w)
      if w and (not best or w.seq > best.seq) then best = w end
    end
    consider(nearest_waiter(KEYS[v.at + K_Q - K_L], r, mode, now, wid))
    consider(nearest_waiter(KEYS[v.at + K_WX - K_L], r, mode, now, wid))
    if mode == 'x' then
      consider(nearest_waiter(KEYS[v.at + K_WS - K_L], r, mode, now, wid))
    end
    for j = 0, v.nanc - 1 do
      consider(nearest_waiter(KEYS[ancestor_key(v, j, K_Q)], r, mode, now,
                              wid))
    end
    if best then return blocker_of(BLOCKER.WAITER, best.exp, best.id) end
  end
  local h = first_conflict(holders, id, mode)
  if h then return blocker_of(BLOCKER.HOLDER, h.exp, v.node) end
  local du = delayed_until(KEYS[v.at], id)
  if du then return blocker_of(BLOCKER.HOLDER, du, v.node) end
  if own_only then return nil end
  for j = 0, v.nanc - 1 do
    local key = KEYS[ancestor_key(v, j, K_L)]
    h = first_conflict(live_holders(key, now), id, mode)
    du = delayed_until(key, id)
    if h or du then
      return blocker_of(BLOCKER.HOLDER, h and h.exp or du,
                        ancestor_node(v.node, j))
    end
  end
  if v.leaf == DIR_LOCK then
    local node, exp = hold_below(v, mode, now)
    if node then return blocker_of(BLOCKER.HOLDER, exp, node) end
  end
  return nil
end

-- Who a queued request is (its record's `h`): what it becomes if another
-- call grants it (grant_waiting), its holder record without the grant's
-- own fields; also what the queue listing and the deadlock walk know of
-- it.  `excl`: O_EXCL, which only its own re-check may grant (its answer
-- may be EEXIST).  ARGV of acquire.lua.
local function request_holder(A, excl)
  return {id = ARGV[A.HOLDER_ID], node = ARGV[A.HOLDER_NODE], excl = excl,
          uid = tonumber(ARGV[A.UID]), gid = tonumber(ARGV[A.GID]),
          pid = tonumber(ARGV[A.PID]), sid = tonumber(ARGV[A.SESSION]),
          kind = ARGV[A.KIND], ttl = tonumber(ARGV[A.TTL_MS]),
          ka = ARGV[A.KEEPALIVE], note = ARGV[A.NOTE] or '',
          dl = tonumber(ARGV[A.LOCK_DELAY_MS]) or 0,
          absorb = ARGV[A.ABSORB_ID] or ''}
end

-- ---- semaphores ---------------------------------------------------------
-- A namespace with a limit (n:<ns> 'limit', ns_attrs()[6]) lets at most that
-- many locks be held at once directly in it, by any owners.  A request it
-- holds back waits in sq:<ns> (seq-scored, FIFO among such requests) as well
-- as in its own queues, and sleeps on the namespace's key: every release in
-- it, and every such request granted or withdrawn, wakes them (a 'wake'
-- notice in the reply), and the first of them takes the free slot.

-- The namespace whose limit lock `v` counts against (a lock file directly
-- in it; a namespace's own .lock counts against none): its path, or nil.
local function semaphore_of(v)
  if v.leaf == DIR_LOCK or v.nanc == 0 then return nil end
  return ancestor_node(v.node, v.nanc - 1)
end

-- How many locks other than `leaf` are held directly in the namespace at
-- KEYS position `pos` (lock-delays included), and the earliest end of one.
local function slots_held(pos, leaf, now)
  local n, first = 0, nil
  for _, m in ipairs({'x', 's'}) do
    local d = redis.call('ZRANGEBYSCORE', summary_key(pos, m), '(' .. now,
                         '+inf', 'WITHSCORES')
    for i = 1, #d, 2 do
      local name = d[i]
      if name ~= leaf and name ~= DIR_LOCK and string.sub(name, -1) ~= '/' then
        n = n + 1
        local e = tonumber(d[i + 1])
        if not first or e < first then first = e end
      end
    end
  end
  return n, first
end

-- Live requests held back by semaphore queue `key` before seq `r` (nil: all
-- of them), other than `self`; dead ones are dropped on the way.
local function sem_waiters_before(key, r, now, self)
  local n = 0
  local upto = '+inf'
  if r then upto = '(' .. r end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', upto)) do
    if id ~= self then
      if live_waiter(id, now) then n = n + 1 else redis.call('ZREM', key, id) end
    end
  end
  return n
end

-- Does the limit `limit` of lock `v`'s namespace hold back request `wid`
-- (queued at seq `r`, nil if not yet) now?  "s|<first slot's end>|<ns>",
-- and the semaphore queue's key, or nil.
local function semaphore_blocker(v, limit, wid, r, now)
  local nspath = semaphore_of(v)
  if not nspath or not limit or limit <= 0 then return nil end
  local sq = tree_key('sq', nspath)
  local held, first = slots_held(ancestor_key(v, v.nanc - 1, K_L), v.leaf, now)
  if held + sem_waiters_before(sq, r, now, wid) < limit then return nil end
  return blocker_of(BLOCKER.SEMAPHORE, first or (now + 1000), nspath), sq
end

-- A request that a semaphore held back leaves its queue (granted or gone):
-- the ones behind it may go now.  Returns the wake notice for the reply.
local function semaphore_left(w)
  redis.call('ZREM', tree_key('sq', w.sq), w.id)
  return {WORD.WAKE, w.sq}
end

local MAX_GRANTS = 32

-- Hand this call's lock (`node`, file `leaf`, live holders `holders`,
-- changed in place) to the requests at the head of its queue that have
-- become grantable, first come first served, the moment a hold ends: each
-- becomes a holder with its own token, exactly as its own acquire would
-- have made it, but provisional (`pw`: its request) until its daemon
-- confirms it, and lasting only as long as its queue entry would have (a
-- lease its daemon renews while the request waits): a grant whose daemon
-- is gone frees the lock when the entry would have stopped holding the
-- queue back anyway, and one whose daemon lives has that long to confirm
-- it, through a failover of Redis too.  Stops at the first request it cannot grant here: still blocked,
-- a lock set, O_EXCL, a conversion of the requester's own lease, a
-- requester that holds the lock already; those hear the release event and
-- ask again, as before.  Returns the grants: {waiter id, daemon, token,
-- expiry} each, for the caller to tell their daemons.
local function grant_waiting(node, leaf, holders, now)
  local grants = {}
  local nanc = (#KEYS - K_ANCESTORS + 1) / K_STRIDE
  local limit = nil
  while #grants < MAX_GRANTS do
    local head = redis.call('ZRANGE', KEYS[K_Q], 0, 0)
    if #head == 0 then break end
    local w = live_waiter(head[1], now)
    if not w then
      -- dead: its record may be gone already (live_waiter, or another
      -- script that met it first), and then unqueue finds nothing to take
      -- out, so this entry is dropped here, or the loop would never end
      unqueue(head[1])
      redis.call('ZREM', KEYS[K_Q], head[1])
    else
      local h = w.h
      if not h or h.excl or h.set or find_holder(holders, h.id) or
         (h.absorb ~= '' and find_holder(holders, h.absorb)) then
        break
      end
      local v = lock_at(K_L, K_ANCESTORS, nanc, node, leaf, w.mode)
      if find_blocker(v, holders, h.id, w.id, w.seq, now, false) then
        break
      end
      if limit == nil then
        limit = tonumber(redis.call('HGET', KEYS[K_NS], 'limit') or 0) or 0
      end
      if semaphore_blocker(v, limit, w.id, w.seq, now) then break end
      if w.sq then grants[#grants + 1] = semaphore_left(w) end
      unqueue(w.id)
      local tok = redis.call('INCR', KEYS[K_TOKEN])
      local exp = w.exp
      holders[#holders + 1] = {
        id = h.id, node = h.node, uid = h.uid, gid = h.gid, pid = h.pid,
        sid = h.sid, kind = h.kind, mode = w.mode, tok = tok, acq = now,
        ren = now, exp = exp, ttl = h.ttl, ka = h.ka, note = h.note,
        dl = h.dl or 0, pw = w.id}
      grants[#grants + 1] = {w.id, w.dnode, tok, exp}
    end
  end
  return grants
end

-- Reply `r` with the grants a call made, for its caller to hand over.
local function with_grants(r, grants)
  if #grants > 0 then r[#r + 1] = grants end
  return r
end
