-- file.lua - the flock view's lock files as files on a disk every node
-- shares: create (O_EXCL included), write, truncate, chmod/chown/utimes and
-- unlink of one file's record in f:<ns> (lib.lua).  None of these takes,
-- renews or ends a lock: the lock of the same name lives on in l:<node>,
-- whatever happens to the file.
--
-- KEYS: 1 n:<ns>, 2 f:<ns>, 3 l:<node>, 4 wr (at K_WR, for live_waiter),
--       5 q:<node>, 6 fseq, 7 n:<path> (a namespace of that name)
-- ARGV: 1 OP 'create'|'write'|'truncate'|'attr'|'unlink', 2 LEAF,
--       3 NS_IS_ROOT '1'|'0', 4 ID: the file a descriptor opened (0: the
--       one there is; a write or truncate through a descriptor of a file
--       since unlinked goes nowhere, as on a disk), 5 FLAGS ('e' O_EXCL,
--       'a' O_APPEND, 't' O_TRUNC: a create empties a file that exists),
--       6 MODE, 7 UID, 8 GID ('' each: unchanged), 9 OFFSET
--       (write) or SIZE (truncate), 10 DATA (write), 11 MTIME (attr: the
--       time asked for, Unix ms; '': now)
-- A create makes the file with MODE, UID and GID unless it exists; with
-- 'e' a file that exists, or a lock held as a lease (a lease view's lock
-- file), is EEXIST.  A write or truncate past FILE_DATA_MAX bytes is EFBIG.
-- Replies: OK with the lock payload (lock_reply, the record last; extra
-- 'created', 'gone' for a write to an unlinked file, else ''); EEXIST;
-- ENOENT (no namespace; attr, unlink: no file); EISDIR; EFBIG.
local op, leaf, id = ARGV[1], ARGV[2], tonumber(ARGV[4])
local excl = string.find(ARGV[5], 'e', 1, true) ~= nil
local append = string.find(ARGV[5], 'a', 1, true) ~= nil
local trunc = string.find(ARGV[5], 't', 1, true) ~= nil
local now = now_ms()

if not ns_attrs(KEYS[1], ARGV[3] == '1') then
  return plain_reply('ENOENT', now)
end
local holders = live_holders(KEYS[3], now)
local rec = file_record(KEYS[2], leaf)
local function reply(status, extra, file)
  return lock_reply(status, now, extra, holders, redis.call('ZCARD', KEYS[5]),
                    delayed_until(KEYS[3], nil), nil, file)
end

if op == 'create' then
  if redis.call('EXISTS', KEYS[7]) == 1 then return plain_reply('EISDIR', now) end
  if excl and (rec or has_lease(holders)) then return reply('EEXIST', '', rec) end
  if rec and trunc and rec.data ~= '' then
    rec.data = ''
    rec.mtime = now
    file_save(KEYS[2], leaf, rec)
  end
  if rec then return reply('OK', '', rec) end
  rec = {id = redis.call('INCR', KEYS[6]), mode = tonumber(ARGV[6]),
         uid = tonumber(ARGV[7]), gid = tonumber(ARGV[8]), ctime = now,
         mtime = now, data = ''}
  file_save(KEYS[2], leaf, rec)
  return reply('OK', 'created', rec)
end

if op == 'unlink' or op == 'attr' then
  if not rec then return plain_reply('ENOENT', now) end
  if op == 'unlink' then
    redis.call('HDEL', KEYS[2], leaf)
    return reply('OK', '', nil)
  end
  if ARGV[6] ~= '' then rec.mode = tonumber(ARGV[6]) end
  if ARGV[7] ~= '' then rec.uid = tonumber(ARGV[7]) end
  if ARGV[8] ~= '' then rec.gid = tonumber(ARGV[8]) end
  rec.ctime = now
  rec.mtime = now
  if ARGV[11] ~= '' then rec.mtime = tonumber(ARGV[11]) end
  file_save(KEYS[2], leaf, rec)
  return reply('OK', '', rec)
end

-- write, truncate: the descriptor's file, or (ID 0) the one there is
if id ~= 0 and (not rec or rec.id ~= id) then return reply('OK', 'gone', rec) end
if not rec then
  rec = {id = redis.call('INCR', KEYS[6]), mode = tonumber(ARGV[6]),
         uid = tonumber(ARGV[7]), gid = tonumber(ARGV[8]), ctime = now,
         mtime = now, data = ''}
end
local d, at = rec.data, tonumber(ARGV[9])
if op == 'write' then
  local data = ARGV[10]
  if append then at = #d end
  if at + #data > FILE_DATA_MAX then return reply('EFBIG', '', rec) end
  if at > #d then d = d .. string.rep('\0', at - #d) end
  d = string.sub(d, 1, at) .. data .. string.sub(d, at + #data + 1)
else
  if at > FILE_DATA_MAX then return reply('EFBIG', '', rec) end
  if at > #d then d = d .. string.rep('\0', at - #d) end
  d = string.sub(d, 1, at)
end
rec.data = d
rec.mtime = now
file_save(KEYS[2], leaf, rec)
return reply('OK', '', rec)
