-- stat.lua - what a path is: a namespace, a lock (held, in its lock-delay,
-- or a lock file that exists unheld: file.lua), or nothing.
--
-- KEYS: 1 n:<path>, 2 l:<node>, 3 n:<ns> (the namespace holding the path),
--       4 wr (at K_WR, for live_waiter), 5 q:<node>, 6 f:<ns>
-- ARGV: 1 path is the root '1'|'0', 2 path is a directory lock '1'|'0',
--       3 ns is the root '1'|'0', 4 the leaf (its name in ns)
-- Replies: OK with kind 'N' (namespace), 'L' (lock) or '-' (nothing).
local now = now_ms()
if ARGV[1] == '1' then
  return ns_reply('OK', now, '', ns_attrs(KEYS[1], true))
end
if not ns_attrs(KEYS[3], ARGV[3] == '1') then
  return plain_reply('ENOENT', now)
end
if ARGV[2] ~= '1' then
  local a = ns_attrs(KEYS[1], false)
  if a then return ns_reply('OK', now, '', a) end
end
local holders = live_holders(KEYS[2], now)
local du = delayed_until(KEYS[2], nil)
local file = file_record(KEYS[6], ARGV[4])
if #holders == 0 and not du and not file then return plain_reply('OK', now) end
-- a lock in an expired hold's lock-delay shows, held by nobody; its
-- waiters follow in queue order (the first QUEUE_LISTED)
return lock_reply('OK', now, '', holders, redis.call('ZCARD', KEYS[5]), du,
                  queue_listing(KEYS[5], now, QUEUE_LISTED), file)
