-- acquire_set.lua - a lock set (the README): take every member as a
-- lease of owner ARGV[1], or none; queue for all of them at once when
-- busy (one waiter entry in every member's queues), FIFO as acquire.lua.
-- Also withdraws such a queued set (flag 'd').
--
-- KEYS: 1-4 token, 5 wr, 6 wseq, then for each member in ARGV order:
--       n:<ns>, f:<ns>, n:<path>, l, dx, ds, q, wx, ws of its node, then
--       (l, dx, ds, q, wx, ws) of each of its ancestors, root first.
-- ARGV: 1 owner id, 2 ttl ms, 3 flags ('w' wait, 'd' withdraw), 4 waiter
--       id, 5 waiter lease ms, 6 daemon node, 7 holder node, 8 uid, 9 gid,
--       10 pid, 11 session, 12 keepalive, 13 member count M, then per
--       member: mode 'x'|'s', leaf, node, ns is root, is a dir lock,
--       number of ancestors; then the caller's groups (gids), one each.
-- The kernel checks permissions for files, not for the members of a set,
-- so this script does what it would for creating each one: write and
-- search permission on the member's namespace (root may do anything).
-- Replies: OK 'new' with kind 'T' and one token per member; EAGAIN (with
-- 'w': queued, extra names the blocker as in acquire.lua); ENOENT; EISDIR;
-- EACCES.
local id, ttl, flags, wid = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local wait = string.find(flags, 'w', 1, true) ~= nil
local now = now_ms()
local members = {}
local k, a = 7, 14
for i = 1, tonumber(ARGV[13]) do
  local m = {mode = ARGV[a], leaf = ARGV[a + 1], node = ARGV[a + 2],
             nsroot = ARGV[a + 3] == '1', dirlock = ARGV[a + 4] == '1',
             nanc = tonumber(ARGV[a + 5]), base = k}
  m.anc = k + 9
  k = k + 9 + K_STRIDE * m.nanc
  a = a + 6
  members[i] = m
end

local function unqueue_set()
  redis.call('HDEL', KEYS[K_WR], wid)
  for _, m in ipairs(members) do
    redis.call('ZREM', KEYS[m.base + 6], wid)
    for j = 0, m.nanc - 1 do
      redis.call('ZREM', KEYS[m.anc + K_STRIDE * j + 4], wid)
      redis.call('ZREM', KEYS[m.anc + K_STRIDE * j + 5], wid)
    end
  end
end

local uid = tonumber(ARGV[8])
local groups = group_set(tonumber(ARGV[9]), a)

if string.find(flags, 'd', 1, true) then
  unqueue_set()
  return plain_reply('OK', now, 'removed')
end

for _, m in ipairs(members) do
  local ns = ns_attrs(KEYS[m.base], m.nsroot)
  if not ns then
    unqueue_set()
    return plain_reply('ENOENT', now)
  end
  if not may_lock(ns, uid, groups) then
    unqueue_set()
    return plain_reply('EACCES', now)
  end
  if not m.dirlock and redis.call('EXISTS', KEYS[m.base + 2]) == 1 then
    unqueue_set()
    return plain_reply('EISDIR', now)
  end
end

local me = live_waiter(wid, now)
local r = me and me.seq or nil

-- the ancestor of `node` with `depth` components
local function ancestor(node, depth)
  if depth == 0 then return '' end
  local n, pos = 0, 0
  while n < depth do
    pos = string.find(node, '/', pos + 1, true)
    n = n + 1
  end
  return string.sub(node, 1, (pos or (#node + 1)) - 1)
end

local function first_conflict(hs, mode)
  for _, h in ipairs(hs) do
    if h.id ~= id and not (mode == 's' and h.mode == 's') then return h end
  end
  return nil
end

local function blocker_of(m)
  local best = nil
  local function consider(w)
    if w and (not best or w.seq > best.seq) then best = w end
  end
  consider(nearest_waiter(KEYS[m.base + 6], r, m.mode, now, wid))
  consider(nearest_waiter(KEYS[m.base + 7], r, m.mode, now, wid))
  if m.mode == 'x' then
    consider(nearest_waiter(KEYS[m.base + 8], r, m.mode, now, wid))
  end
  for j = 0, m.nanc - 1 do
    consider(nearest_waiter(KEYS[m.anc + K_STRIDE * j + 3], r, m.mode, now,
                            wid))
  end
  if best then return 'w|' .. best.exp .. '|' .. best.id end
  local h = first_conflict(m.holders, m.mode)
  if h then return 'h|' .. h.exp .. '|' .. m.node end
  for j = 0, m.nanc - 1 do
    h = first_conflict(live_holders(KEYS[m.anc + K_STRIDE * j], now), m.mode)
    if h then return 'h|' .. h.exp .. '|' .. ancestor(m.node, j) end
  end
  local sets = {KEYS[m.base + 4]}
  if m.mode == 'x' then sets[2] = KEYS[m.base + 5] end
  for _, key in ipairs(sets) do
    zlive(key, now)
    local d = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf',
                         'WITHSCORES', 'LIMIT', 0, 1)
    if #d > 0 then return 'h|' .. d[2] .. '|' .. d[1] end
  end
  return nil
end

local blocker = nil
for _, m in ipairs(members) do
  m.holders = live_holders(KEYS[m.base + 3], now)
  blocker = blocker or blocker_of(m)
end

if blocker then
  if not wait then return plain_reply('EAGAIN', now) end
  if not me then
    me = {id = wid, lnode = members[1].node, mode = 'x', dnode = ARGV[6],
          seq = redis.call('INCR', KEYS[K_WSEQ])}
    for _, m in ipairs(members) do
      redis.call('ZADD', KEYS[m.base + 6], me.seq, wid)
      for j = 0, m.nanc - 1 do
        local b = m.anc + K_STRIDE * j
        redis.call('ZADD', KEYS[b + (m.mode == 's' and 5 or 4)], me.seq, wid)
      end
    end
  end
  me.exp = now + tonumber(ARGV[5])
  redis.call('HSET', KEYS[K_WR], wid, cmsgpack.pack(me))
  for _, m in ipairs(members) do
    expire_at_least(KEYS[m.base + 6], me.exp)
    for j = 0, m.nanc - 1 do
      local b = m.anc + K_STRIDE * j
      expire_at_least(KEYS[b + (m.mode == 's' and 5 or 4)], me.exp)
    end
  end
  return plain_reply('EAGAIN', now, blocker)
end

unqueue_set()
local r2 = {'OK', now, 'new', 'T', #members}
for _, m in ipairs(members) do
  local mine = find_holder(m.holders, id)
  if mine then
    mine.ren = now
    mine.exp = now + mine.ttl
  else
    mine = {id = id, node = ARGV[7], uid = tonumber(ARGV[8]),
            gid = tonumber(ARGV[9]), pid = tonumber(ARGV[10]),
            sid = tonumber(ARGV[11]), kind = 'lease', mode = m.mode,
            tok = redis.call('INCR', KEYS[K_TOKEN]), acq = now, ren = now,
            exp = now + ttl, ttl = ttl, ka = ARGV[12], note = ''}
    m.holders[#m.holders + 1] = mine
  end
  save_holders(KEYS[m.base + 3], m.holders)
  -- the index entries of this member (reindex() knows one lock only)
  local exp, mode = max_expiry(m.holders), m.holders[1].mode
  for j = 0, m.nanc - 1 do
    local b = m.anc + K_STRIDE * j
    local into, other = KEYS[b + 1], KEYS[b + 2]
    if mode == 's' then into, other = other, into end
    redis.call('ZADD', into, exp, m.node)
    redis.call('ZREM', other, m.node)
    expire_at_least(into, exp)
  end
  redis.call('ZADD', KEYS[m.base + 1], exp, m.leaf)
  expire_at_least(KEYS[m.base + 1], exp)
  r2[#r2 + 1] = mine.tok
end
return r2
