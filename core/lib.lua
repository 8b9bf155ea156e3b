-- lib.lua - the helpers of holds every lockfs server-side script shares:
-- holders, the tree's keys and summaries, lock files, namespaces and
-- replies.  lib_wait.lua follows it with the helpers of waiting (queues,
-- blockers, deadlocks, semaphores, grants); embed-lua (core/embed_lua.c)
-- puts both in front of the scripts in one Redis Functions library, so
-- each script stays one atomic call while the rules live in one place.
--
-- Data model (every key under one hash tag, built by core/store.c):
--   l:<node>   str   cmsgpack array of its holders, each an array of the
--                    fields HOLDER_PACK names (no field names stored); the
--                    key expires with its last holder
--   tx:<ns>    zset  what is held exclusive in namespace ns, one entry per
--                    child: a lock file's name -> its expiry (ms), a child
--                    namespace's name with a '/' -> the latest expiry of
--                    anything held exclusive in it or below (the top score
--                    of its own tx); its '.lock' counts as one of its files
--   ts:<ns>    zset  the same for what is held shared
--   n:<ns>     hash  namespace attributes (mode uid gid ctime mtime)
--   f:<ns>     hash  the flock view's lock files in namespace ns that exist
--                    held or not: a lock file's name -> cmsgpack record
--                    {id, mode, uid, gid, ctime, mtime, data} (file.lua);
--                    a namespace's '.lock' is one of its own files
--   fseq       int   file ids: a new file of an old name is another file
--   c:<ns>     set   names of child namespaces
--   token      int   fencing-token counter, shared by every lock
--   wr         hash  waiter id -> cmsgpack record of one waiting request
--   wseq       int   waiter sequence: FIFO order across the cluster
--   q:<node>   zset  waiters for the lock node itself -> seq
--   wx:<node>  zset  waiters below node, exclusive -> seq
--   ws:<node>  zset  waiters below node, shared    -> seq
-- A waiter is live while its `exp` (a lease its daemon renews while it
-- waits) is later than the Redis clock; dead ones are dropped when met.
-- A holder is live while its `exp` is later than the Redis clock.  Index
-- entries carry the expiry of what they count, so an entry whose score is
-- past counts as nothing: nothing depends on a node noticing an expiry.
-- A hold costs one l key and one tx/ts entry, however deep; a namespace
-- one entry in its parent's, which every change keeps equal to its top
-- score (reindex_at), so "is anything below held" is one look at one key.
--
-- Replies are flat arrays: {status, now_ms, extra, kind, payload...}, each
-- word of them declared in script_iface.h: status STATUS.*, extra WORD.*
-- or a blocker (lib_wait.lua's blocker_of), kind KIND.LOCK, NAMESPACE, LISTING, TOKENS
-- or NONE (nothing).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A holder record's fields in their stored order: `dl` is its lock-delay
-- (ms; 0 for none), `pw`, set only while the grant is provisional
-- (grant_waiting), comes last.
local HOLDER_PACK = {'id', 'node', 'uid', 'gid', 'pid', 'sid', 'kind',
                     'mode', 'tok', 'acq', 'ren', 'exp', 'ttl', 'ka', 'note',
                     'dl', 'pw'}

-- Lock-delay: a hold that *expired* (not one released or broken) keeps its
-- lock unavailable to anyone else until exp + dl.  Such records stay in
-- the lock's value (live_holders keeps them aside here, per key, for
-- save_holders to write back) and the key lives until their delay ends.
local DELAYED = {}

-- What one call keeps for itself starts afresh with each call: the
-- library lives on between calls (embed_lua.c calls this first).
local function call_begin()
  DELAYED = {}
end

-- The end of a hold's lock-delay (its expiry when it has none).
local function held_until(h)
  return h.exp + (h.dl or 0)
end

-- Live holders of lock `key`, oldest grant first.  Expired ones are left
-- in the stored value until the next save_holders (the key itself
-- expires with its last holder); those still in their lock-delay are
-- kept aside (DELAYED).
local function live_holders(key, now)
  local raw = redis.call('GET', key)
  local live, delayed = {}, {}
  DELAYED[key] = delayed
  if not raw then return live end
  for _, a in ipairs(cmsgpack.unpack(raw)) do
    local rec = {}
    for i, k in ipairs(HOLDER_PACK) do rec[k] = a[i] end
    if rec.exp > now then
      live[#live + 1] = rec
    elseif held_until(rec) > now then
      delayed[#delayed + 1] = rec
    end
  end
  table.sort(live, function(a, b) return a.tok < b.tok end)
  return live
end

-- Until when a hold of lock `key` that expired keeps it from `id` (nil:
-- not at all), as the last live_holders(key) found.
local function delayed_until(key, id)
  local u = nil
  for _, d in ipairs(DELAYED[key] or {}) do
    if d.id ~= id and (not u or held_until(d) > u) then u = held_until(d) end
  end
  return u
end

local function find_holder(holders, id)
  for i, h in ipairs(holders) do
    if h.id == id then return h, i end
  end
  return nil, nil
end

-- Does any holder in `holders`, other than `id`, conflict with `mode`?
local function holders_conflict(holders, id, mode)
  for _, h in ipairs(holders) do
    if h.id ~= id and not (mode == 's' and h.mode == 's') then
      return true
    end
  end
  return false
end

-- The latest moment any of `holders` may keep its lock, lock-delay
-- included: what the indexes score a lock by.
local function max_held_until(holders)
  local m = 0
  for _, h in ipairs(holders) do
    if held_until(h) > m then m = held_until(h) end
  end
  return m
end

-- Make `key` live at least until `at` (ms); never shortens it.
local function expire_at_least(key, at)
  local cur = redis.call('PEXPIRETIME', key)
  if cur == -1 or cur < at then
    redis.call('PEXPIREAT', key, at)
  end
end

-- Live members of an expiry-scored zset, after dropping the expired ones.
local function zlive(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end

-- The KEYS layout shared by acquire, renew, release and withdraw (K_TOKEN
-- ... K_WSEQ, then K_L ... K_WS per node: the lock's own, and from
-- K_ANCESTORS on every K_STRIDE keys an ancestor's), every script's ARGV
-- (A_<SCRIPT>) and other KEYS (K_<SCRIPT>), the reply's HOLDER_FIELDS and
-- the words of a reply are declared once in script_iface.h; embed-lua
-- writes them in front of this file.

local DIR_LOCK = '.lock' -- name.h's NAME_DIR_LOCK: a namespace's own lock

-- A lock as the KEYS of one call hold it: `at` is the position of its l key
-- (its tx, ts, q, wx, ws follow, as K_L ... K_WS do), `anc` that of its
-- first ancestor's l key (root first, K_STRIDE apart), `nanc` how many
-- ancestors.  Single-lock scripts use the_lock(); a lock set makes one per
-- member.
local function lock_at(at, anc, nanc, node, leaf, mode)
  return {at = at, anc = anc, nanc = nanc, node = node, leaf = leaf,
          mode = mode}
end

local function the_lock(node, leaf, mode)
  return lock_at(K_L, K_ANCESTORS, (#KEYS - K_ANCESTORS + 1) / K_STRIDE,
                 node, leaf, mode)
end

-- The KEYS position of key `kind` (K_L ... K_WS) of ancestor `j` of `v`.
local function ancestor_key(v, j, kind)
  return v.anc + K_STRIDE * j + (kind - K_L)
end

-- The ancestor of `node` with `depth` components ('' is the root).
local function ancestor_node(node, depth)
  if depth == 0 then return '' end
  local n, pos = 0, 0
  while n < depth do
    pos = string.find(node, '/', pos + 1, true)
    n = n + 1
  end
  return string.sub(node, 1, (pos or (#node + 1)) - 1)
end

-- The key `kind`:<name> of this tree, for a key no KEYS slot names (a
-- summary below the lock, met on the way down; same hash tag).
local function tree_key(kind, name)
  return string.match(KEYS[K_TOKEN], '^(.*:)token:$') .. kind .. ':' .. name
end

-- The summary key of mode `m` ('x' tx, 's' ts) at KEYS position `pos` of a
-- node's l key.
local function summary_key(pos, m)
  if m == 's' then return KEYS[pos + K_TS - K_L] end
  return KEYS[pos + K_TX - K_L]
end

-- The namespaces a hold of lock `v` counts in, its own first, then up to
-- the root: {pos (of the namespace's l key in KEYS), name (its entry in
-- the next one up: "<last component>/")}.  A directory lock's namespace
-- is its own node; a lock file's, its last ancestor.
local function summary_chain(v)
  local chain = {}
  local function level(pos, path)
    chain[#chain + 1] = {pos = pos, name = string.match(path, '[^/]*$') .. '/'}
  end
  if v.leaf == DIR_LOCK then level(v.at, v.node) end
  for j = v.nanc - 1, 0, -1 do
    level(ancestor_key(v, j, K_L), ancestor_node(v.node, j))
  end
  return chain
end

-- An entry of level 1 of `chain` grew to `exp`: so may every level above.
local function summary_grew(chain, m, exp)
  for i = 2, #chain do
    if redis.call('ZADD', summary_key(chain[i].pos, m), 'GT', 'CH', exp,
                  chain[i - 1].name) == 0 then
      return -- it was the top already, and so above
    end
  end
end

-- An entry of level 1 of `chain` that scored `gone` shrank or went: where
-- it was a level's top, the level above gets that level's new top.
local function summary_shrank(chain, m, gone)
  for i = 2, #chain do
    local top = redis.call('ZREVRANGE', summary_key(chain[i - 1].pos, m),
                           0, 0, 'WITHSCORES')
    local t = top[2] and tonumber(top[2])
    if t and t >= gone then return end
    local key = summary_key(chain[i].pos, m)
    if t then
      redis.call('ZADD', key, t, chain[i - 1].name)
    else
      redis.call('ZREM', key, chain[i - 1].name)
    end
  end
end

-- Rewrite the index entries of lock `v` after its holders changed to
-- `holders`: its entry in its namespace's tx/ts, and the summaries above
-- as far as they change.  Expired entries of that namespace are dropped
-- when a new one comes in, so they never pile up.
local function reindex_at(v, holders, now)
  local exp = max_held_until(holders)
  local mode = holders[1] and holders[1].mode
  local du = delayed_until(KEYS[v.at], nil)
  if du and du > exp then -- an expired hold's delay still counts
    exp = du
    mode = mode or DELAYED[KEYS[v.at]][1].mode
  end
  local chain = summary_chain(v)
  for _, m in ipairs({'x', 's'}) do
    local key = summary_key(chain[1].pos, m)
    local old = redis.call('ZSCORE', key, v.leaf)
    old = old and tonumber(old)
    if mode == m then
      if old ~= exp then
        redis.call('ZADD', key, exp, v.leaf)
        if not old then
          redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
          summary_grew(chain, m, exp)
        elseif exp > old then
          summary_grew(chain, m, exp)
        else
          summary_shrank(chain, m, old)
        end
      end
    elseif old then
      redis.call('ZREM', key, v.leaf)
      summary_shrank(chain, m, old)
    end
  end
end

-- The same for the one lock of a single-lock script.
local function reindex(holders, leaf, node, now)
  reindex_at(the_lock(node, leaf, 'x'), holders, now)
end

-- A live hold below directory lock `v` that conflicts with `mode`: its
-- lock node and expiry, or nil.  Walks down the summaries: an entry with
-- a live score leads to a level with a live entry, down to a lock.
local function hold_below(v, mode, now)
  local modes = {'x'}
  if mode == 'x' then modes[2] = 's' end
  for _, m in ipairs(modes) do
    local key, path, skip = summary_key(v.at, m), v.node, DIR_LOCK
    while key do
      local d = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf',
                           'WITHSCORES', 'LIMIT', 0, 2)
      local name, score = nil, nil
      for i = 1, #d, 2 do
        if d[i] ~= skip then name, score = d[i], d[i + 1]; break end
      end
      if not name then break end
      if name == DIR_LOCK then return path, score end
      local child = name
      if string.sub(name, -1) == '/' then child = string.sub(name, 1, -2) end
      if path ~= '' then child = path .. '/' .. child end
      if string.sub(name, -1) ~= '/' then return child, score end
      key, path, skip = tree_key('t' .. m, child), child, nil
    end
  end
  return nil
end

-- Store `holders` back into lock `key` (holders changed in place), to
-- expire with the last of them.
local function save_holders(key, holders)
  local all = {}
  for _, h in ipairs(holders) do all[#all + 1] = h end
  for _, d in ipairs(DELAYED[key] or {}) do all[#all + 1] = d end
  if #all == 0 then
    redis.call('DEL', key)
    return
  end
  local packed = {}
  for i, h in ipairs(all) do
    local a = {}
    for j, k in ipairs(HOLDER_PACK) do a[j] = h[k] end
    if h.dl == nil then -- no hole before pw: the value stays an array
      for j, k in ipairs(HOLDER_PACK) do if k == 'dl' then a[j] = 0 end end
    end
    packed[i] = a
  end
  redis.call('SET', key, cmsgpack.pack(packed), 'PXAT', max_held_until(all))
end

-- ---- lock files as on a disk (the flock view) ---------------------------
-- A record of f:<ns> (above), by its field names in stored order.
local FILE_PACK = {'id', 'mode', 'uid', 'gid', 'ctime', 'mtime', 'data'}
local FILE_DATA_MAX = 1024 -- bytes a lock file holds (more: EFBIG)

-- The record of file `leaf` in files hash `key`, or nil.
local function file_record(key, leaf)
  local raw = redis.call('HGET', key, leaf)
  if not raw then return nil end
  local a, rec = cmsgpack.unpack(raw), {}
  for i, k in ipairs(FILE_PACK) do rec[k] = a[i] end
  return rec
end

local function file_save(key, leaf, rec)
  local a = {}
  for i, k in ipairs(FILE_PACK) do a[i] = rec[k] end
  redis.call('HSET', key, leaf, cmsgpack.pack(a))
end

-- The files hash of the namespace lock `node` (file `leaf`) is in: a
-- directory lock is a file of its own namespace.
local function files_key(node, leaf)
  local ns = node
  if leaf ~= '.lock' then ns = string.match(node, '^(.*)/[^/]*$') or '' end
  return tree_key('f', ns)
end

-- Does anyone hold the lock as a lease?  (A lease makes a lock file exist
-- in both views; a handle lock alone, only where a file exists.)
local function has_lease(holders)
  for _, h in ipairs(holders) do
    if h.kind ~= 'handle' then return true end
  end
  return false
end

-- A lock reply: `du`, when the lock is in an expired hold's lock-delay,
-- until when; `queue`, the waiters to list (queue_listing), in order;
-- `file`, the lock file's record (file_record) when one exists, listed
-- as 1 and its FILE_PACK fields (0 when none); last, 0 when `wake` is false
-- (the end of a hold that no queued request can be sleeping on: its node
-- need not tell the broker unless someone reads events), else 1.
local function lock_reply(status, now, extra, holders, waiters, du, queue,
                          file, wake)
  local tok = 0
  for _, h in ipairs(holders) do
    if h.tok > tok then tok = h.tok end
  end
  local mode = holders[1] and holders[1].mode or 'x'
  local r = {status, now, extra, KIND.LOCK, mode, tok, waiters or 0, du or 0,
             #holders}
  for _, h in ipairs(holders) do
    for _, k in ipairs(HOLDER_FIELDS) do
      local v = h[k]
      if v == nil then v = '' end
      r[#r + 1] = v
    end
  end
  queue = queue or {}
  r[#r + 1] = #queue
  for _, w in ipairs(queue) do
    for _, v in ipairs(w) do r[#r + 1] = v end
  end
  if file then
    r[#r + 1] = 1
    for _, k in ipairs(FILE_PACK) do r[#r + 1] = file[k] end
  else
    r[#r + 1] = 0
  end
  r[#r + 1] = wake == false and 0 or 1
  return r
end

local ROOT_NS_MODE = 1023 -- 01777: like /tmp, anyone may create, sticky

-- Namespace attributes of hash `key`, or nil when it does not exist; the
-- root namespace always exists, with defaults until someone changes them.
-- {mode, uid, gid, ctime, mtime, limit}: `limit`, the semaphore's (the
-- most locks held at once directly in it; 0 for none).
local function ns_attrs(key, is_root)
  local v = redis.call('HMGET', key, 'mode', 'uid', 'gid', 'ctime', 'mtime',
                       'limit')
  if v[1] then
    return {tonumber(v[1]), tonumber(v[2]), tonumber(v[3]),
            tonumber(v[4]), tonumber(v[5]), tonumber(v[6]) or 0}
  end
  if is_root then
    return {ROOT_NS_MODE, 0, 0, 0, 0, tonumber(v[6]) or 0}
  end
  return nil
end

-- May a caller of uid `uid` and groups `groups` (a set: gid -> true) take
-- a lock in namespace attrs `ns` (mode uid gid)?  Write and search
-- permission on it, by the usual owner/group/other bits; root may anything.
local function may_lock(ns, uid, groups)
  if uid == 0 then return true end
  local bits = ns[1] % 8
  if ns[2] == uid then
    bits = math.floor(ns[1] / 64) % 8
  elseif groups[ns[3]] then
    bits = math.floor(ns[1] / 8) % 8
  end
  return bits % 4 == 3 -- write (2) and search (1)
end

-- The caller's groups from ARGV[first..]: a set, with its own gid too.
local function group_set(gid, first)
  local groups = {[gid] = true}
  for i = first, #ARGV do groups[tonumber(ARGV[i])] = true end
  return groups
end

local function ns_reply(status, now, extra, a)
  return {status, now, extra, KIND.NAMESPACE, a[1], a[2], a[3], a[4], a[5],
          a[6] or 0}
end

local function plain_reply(status, now, extra)
  return {status, now, extra or WORD.NONE, KIND.NONE}
end
