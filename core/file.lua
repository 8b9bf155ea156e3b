-- file.lua - the flock view's lock files as files on a disk every node
-- shares: create (O_EXCL included), write, truncate, chmod/chown/utimes and
-- unlink of one file's record in f:<ns> (lib.lua).  None of these takes,
-- renews or ends a lock: the lock of the same name lives on in l:<node>,
-- whatever happens to the file.
--
-- KEYS: K_FILE (script_iface.h): NS n:<ns>, FILES f:<ns>, LOCK l:<node>,
--       WR (at K_WR, for live_waiter), Q q:<node>, FSEQ fseq, PATHNS
--       n:<path> (a namespace of that name)
-- ARGV: A_FILE: OP 'create'|'write'|'truncate'|'attr'|'unlink', LEAF,
--       NS_IS_ROOT '1'|'0', ID: the file a descriptor opened (0: the
--       one there is; a write or truncate through a descriptor of a file
--       since unlinked goes nowhere, as on a disk), FLAGS ('e' O_EXCL,
--       'a' O_APPEND, 't' O_TRUNC: a create empties a file that exists),
--       MODE, UID, GID ('' each: unchanged), OFFSET (write) or the size
--       (truncate), DATA (write), MTIME (attr: the time asked for, Unix
--       ms; '': now)
-- A create makes the file with MODE, UID and GID unless it exists; with
-- 'e' a file that exists, or a lock held as a lease (a lease view's lock
-- file), is EEXIST.  A write or truncate past FILE_DATA_MAX bytes is EFBIG.
-- Replies: OK with the lock payload (lock_reply, the record last; extra
-- 'created', 'gone' for a write to an unlinked file, else ''); EEXIST;
-- ENOENT (no namespace; attr, unlink: no file); EISDIR; EFBIG.
local K, A = K_FILE, A_FILE
local op, leaf, id = ARGV[A.OP], ARGV[A.LEAF], tonumber(ARGV[A.ID])
local excl = string.find(ARGV[A.FLAGS], 'e', 1, true) ~= nil
local append = string.find(ARGV[A.FLAGS], 'a', 1, true) ~= nil
local trunc = string.find(ARGV[A.FLAGS], 't', 1, true) ~= nil
local now = now_ms()

if not ns_attrs(KEYS[K.NS], ARGV[A.NS_IS_ROOT] == '1') then
  return plain_reply(STATUS.ENOENT, now)
end
local holders = live_holders(KEYS[K.LOCK], now)
local rec = file_record(KEYS[K.FILES], leaf)
local function reply(status, extra, file)
  return lock_reply(status, now, extra, holders, redis.call('ZCARD', KEYS[K.Q]),
                    delayed_until(KEYS[K.LOCK], nil), nil, file)
end

if op == 'create' then
  if redis.call('EXISTS', KEYS[K.PATHNS]) == 1 then
    return plain_reply(STATUS.EISDIR, now)
  end
  if excl and (rec or has_lease(holders)) then
    return reply(STATUS.EEXIST, WORD.NONE, rec)
  end
  if rec and trunc and rec.data ~= '' then
    rec.data = ''
    rec.mtime = now
    file_save(KEYS[K.FILES], leaf, rec)
  end
  if rec then return reply(STATUS.OK, WORD.NONE, rec) end
  rec = {id = redis.call('INCR', KEYS[K.FSEQ]), mode = tonumber(ARGV[A.MODE]),
         uid = tonumber(ARGV[A.UID]), gid = tonumber(ARGV[A.GID]), ctime = now,
         mtime = now, data = ''}
  file_save(KEYS[K.FILES], leaf, rec)
  return reply(STATUS.OK, WORD.CREATED, rec)
end

if op == 'unlink' or op == 'attr' then
  if not rec then return plain_reply(STATUS.ENOENT, now) end
  if op == 'unlink' then
    redis.call('HDEL', KEYS[K.FILES], leaf)
    return reply(STATUS.OK, WORD.NONE, nil)
  end
  if ARGV[A.MODE] ~= '' then rec.mode = tonumber(ARGV[A.MODE]) end
  if ARGV[A.UID] ~= '' then rec.uid = tonumber(ARGV[A.UID]) end
  if ARGV[A.GID] ~= '' then rec.gid = tonumber(ARGV[A.GID]) end
  rec.ctime = now
  rec.mtime = now
  if ARGV[A.MTIME] ~= '' then rec.mtime = tonumber(ARGV[A.MTIME]) end
  file_save(KEYS[K.FILES], leaf, rec)
  return reply(STATUS.OK, WORD.NONE, rec)
end

-- write, truncate: the descriptor's file, or (ID 0) the one there is
if id ~= 0 and (not rec or rec.id ~= id) then
  return reply(STATUS.OK, WORD.GONE, rec)
end
if not rec then
  rec = {id = redis.call('INCR', KEYS[K.FSEQ]), mode = tonumber(ARGV[A.MODE]),
         uid = tonumber(ARGV[A.UID]), gid = tonumber(ARGV[A.GID]), ctime = now,
         mtime = now, data = ''}
end
local d, at = rec.data, tonumber(ARGV[A.OFFSET])
if op == 'write' then
  local data = ARGV[A.DATA]
  if append then at = #d end
  if at + #data > FILE_DATA_MAX then
    return reply(STATUS.EFBIG, WORD.NONE, rec)
  end
  if at > #d then d = d .. string.rep('\0', at - #d) end
  d = string.sub(d, 1, at) .. data .. string.sub(d, at + #data + 1)
else
  if at > FILE_DATA_MAX then return reply(STATUS.EFBIG, WORD.NONE, rec) end
  if at > #d then d = d .. string.rep('\0', at - #d) end
  d = string.sub(d, 1, at)
end
rec.data = d
rec.mtime = now
file_save(KEYS[K.FILES], leaf, rec)
return reply(STATUS.OK, WORD.NONE, rec)
