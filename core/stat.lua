-- stat.lua - what a path is: a namespace, a lock (held, in its lock-delay,
-- or a lock file that exists unheld: file.lua), or nothing.
--
-- KEYS: K_STAT (script_iface.h): PATHNS n:<path>, LOCK l:<node>, NS n:<ns>
--       (the namespace holding the path), WR (at K_WR, for live_waiter),
--       Q q:<node>, FILES f:<ns>
-- ARGV: A_STAT: IS_ROOT (the path) '1'|'0', IS_DIR_LOCK (the path)
--       '1'|'0', NS_IS_ROOT '1'|'0', LEAF (its name in ns)
-- Replies: OK with kind 'N' (namespace), 'L' (lock) or '-' (nothing).
local K, A = K_STAT, A_STAT
local now = now_ms()
if ARGV[A.IS_ROOT] == '1' then
  return ns_reply(STATUS.OK, now, WORD.NONE, ns_attrs(KEYS[K.PATHNS], true))
end
if not ns_attrs(KEYS[K.NS], ARGV[A.NS_IS_ROOT] == '1') then
  return plain_reply(STATUS.ENOENT, now)
end
if ARGV[A.IS_DIR_LOCK] ~= '1' then
  local a = ns_attrs(KEYS[K.PATHNS], false)
  if a then return ns_reply(STATUS.OK, now, WORD.NONE, a) end
end
local holders = live_holders(KEYS[K.LOCK], now)
local du = delayed_until(KEYS[K.LOCK], nil)
local file = file_record(KEYS[K.FILES], ARGV[A.LEAF])
if #holders == 0 and not du and not file then
  return plain_reply(STATUS.OK, now)
end
-- a lock in an expired hold's lock-delay shows, held by nobody; its
-- waiters follow in queue order (the first QUEUE_LISTED)
return lock_reply(STATUS.OK, now, WORD.NONE, holders,
                  redis.call('ZCARD', KEYS[K.Q]), du,
                  queue_listing(KEYS[K.Q], now, QUEUE_LISTED), file)
