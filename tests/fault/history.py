#!/usr/bin/env python3
"""history.py - a seeded random lock workload on several lockfs mounts that
logs a history of grants and releases for check_history.py.

  history.py --seed S --seconds T --log FILE [--workers 12]
             [--users lockfs-a,lockfs-b] MOUNT1 MOUNT2 MOUNT3

Workers are forked processes, each in a session of its own (so each is
another lease owner) and, when run as root and the users exist, as an
unprivileged user (so that no worker can ever break another's lock with
rm).  Each loops, choosing with random.Random(seed * 1000003 + worker):

  * a mount, and a name of one small tree, so that conflicts along the
    hierarchy happen: a/x a/b/y a/b/z c/z and the directory locks
    a/b/.lock a/.lock c/.lock and (rarely) /.lock;
  * how to take it: a lease by a blocking open(O_WRONLY|O_CREAT), with
    O_NONBLOCK (EAGAIN is fine), with O_EXCL (blocking or not); flock
    LOCK_EX or LOCK_SH, blocking or LOCK_NB, on a read-only O_CREAT open;
    fcntl F_RDLCK on a read-only open, or F_WRLCK on a write open, which
    converts the open's lease into a handle lock; a lock set written to
    /.lockfs/acquire (some members shared), blocking or O_NONBLOCK;
  * while holding: renew by writing a note or a new ttl=, switch the lease
    to keepalive=session; hold 0-200 ms; release (unlink for a lease,
    LOCK_UN / F_UNLCK / close for a handle lock);
  * or let a lease expire: write "keepalive=off" and "ttl=300ms" into it
    and never touch it again;
  * or die: SIGKILL itself while holding, or be SIGKILLed by its watchdog
    thread while waiting; the parent starts a new worker (a new owner).
Blocking waits are ended by a signal (EINTR) after 1-4 s.

Every step is one JSON line appended to FILE (one write(2) per line on an
O_APPEND descriptor, so lines of different workers never mix), all times
from time.monotonic_ns() on this one machine.  A hold is identified by "h":

  {"ev":"grant","h","w","t","t_req","path","node","mode":"x"|"s","token",
   "kind":"lease"|"handle","how","mount","ttl_ms","ka"}   after the call
      returned (t) - it was asked for at t_req; token null when unknown
  {"ev":"proof","h","t"}       a call started at t proved the hold alive
      (the lock's token is still ours, or our holder block is listed)
  {"ev":"verify-failed","h","t","why"}  the same call found it gone
  {"ev":"renew","h","t","ttl_ms","ka"}  a write started at t renewed it
  {"ev":"renew-failed","h","t","err"}
  {"ev":"expire-suspected","h","t","ttl_ms"}  the write of ttl=... started
      at t succeeded; the lease is now left to expire
  {"ev":"release","h","t",...}  logged BEFORE unlink / LOCK_UN / close
  {"ev":"released","h","t","ok","err"}  the release call's outcome
  {"ev":"kill","w","t","holds":[h...],"waiting":bool}  just before SIGKILL
  {"ev":"busy"|"timeout"|"error","w","t","t_req","how","path","err"}
  {"ev":"late-expiry","h","t"}  a lease left to expire still had our token
      250 ms after its ttl
  {"ev":"meta",...} {"ev":"exit",...} {"ev":"abandon",...}

Worker failures (EIO, ENOTCONN, ENOENT while a daemon restarts) are logged
and tolerated; a worker that could not release something it held leaves
(exit 3) and is replaced by a new owner.  Timings are never asserted here.
"""
import argparse
import ctypes
import errno
import json
import os
import pwd
import random
import signal
import sys
import threading
import time

TREE = [("a/x", 3), ("a/b/y", 3), ("a/b/z", 2), ("c/z", 3),
        ("a/b/.lock", 2), ("a/.lock", 2), ("c/.lock", 1), (".lock", 0.25)]
SETS = [["a/x", "c/z"], ["a/b/y", "a/x"], ["shared:a/.lock", "shared:a/b/y"],
        ["shared:a/b/.lock", "c/z"], ["a/b/z", "a/b/y", "c/.lock"],
        ["shared:c/.lock", "shared:c/z", "a/x"], ["shared:a/x"],
        ["shared:a/b/z", "shared:a/b/.lock", "shared:a/.lock"]]
NAMESPACES = ["a", "a/b", "c"]

F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2
F_SETLK, F_SETLKW = 6, 7
XATTR = "user.lockfs.token"

libc = ctypes.CDLL(None, use_errno=True)


class Flock(ctypes.Structure):
    _fields_ = [("l_type", ctypes.c_short), ("l_whence", ctypes.c_short),
                ("l_start", ctypes.c_long), ("l_len", ctypes.c_long),
                ("l_pid", ctypes.c_int)]


def now():
    return time.monotonic_ns()


def ename(e):
    return errno.errorcode.get(e, str(e))


def node_of(path):
    """The tree node a lock path names: 'a/b/.lock' is 'a/b', '.lock' ''."""
    path = path.strip("/")
    if path == ".lock":
        return ""
    if path.endswith("/.lock"):
        return path[:-len("/.lock")]
    return path


def parse_ms(text):
    """'2s', '300ms', '1m', '1500ms', '2' -> milliseconds."""
    total, num = 0.0, ""
    units = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}
    i = 0
    while i < len(text):
        c = text[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else c
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        total += float(num) * 1000
    return int(total)


def parse_info(text):
    """A lock file's text -> (top-level dict, list of holder dicts)."""
    top, holders, cur = {}, [], None
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if k == "node":
            cur = {}
            holders.append(cur)
        if k == "waiters":
            cur = None
        if cur is None:
            top[k] = v
        else:
            cur[k] = v
    return top, holders


def cerr():
    return ctypes.get_errno()


class Watchdog(threading.Thread):
    """Ends a wait of the main thread: "intr" sends it SIGUSR1 (EINTR,
    again every 0.5 s until disarmed), "kill" SIGKILLs the process."""

    def __init__(self, worker):
        super().__init__(daemon=True)
        self.worker = worker
        self.cond = threading.Condition()
        self.deadline = None
        self.action = None
        self.main = threading.main_thread().ident

    def arm(self, seconds, action):
        with self.cond:
            self.deadline = time.monotonic() + seconds
            self.action = action
            self.cond.notify()

    def disarm(self):
        with self.cond:
            self.deadline = None
            self.action = None

    def run(self):
        signal.pthread_sigmask(signal.SIG_BLOCK,
                               {signal.SIGUSR1, signal.SIGALRM})
        with self.cond:
            while True:
                if self.deadline is None:
                    self.cond.wait()
                    continue
                left = self.deadline - time.monotonic()
                if left > 0:
                    self.cond.wait(left)
                    continue
                if self.action == "kill":
                    self.worker.log({"ev": "kill", "w": self.worker.wid,
                                     "t": now(), "holds": [],
                                     "waiting": True})
                    os.kill(os.getpid(), signal.SIGKILL)
                signal.pthread_kill(self.main, signal.SIGUSR1)
                self.deadline = time.monotonic() + 0.5


class Abandon(Exception):
    pass


class Hold:
    def __init__(self, hid, mount, path, mode, kind, how, fd=None):
        self.hid, self.mount, self.path = hid, mount, path
        self.node, self.mode, self.kind, self.how = node_of(path), mode, kind, how
        self.fd = fd
        self.token = None
        self.full = os.path.join(mount["path"], path)


class Worker:
    def __init__(self, a, wid, logfd, mounts, until):
        self.wid = wid
        self.rng = random.Random(a.seed * 1000003 + wid)
        self.logfd = logfd
        self.mounts = mounts
        self.until = until
        self.kill_rate = a.kill_rate
        self.seq = 0
        self.avoid = {}        # node -> monotonic ns until which to keep off
        self.later = []        # (when, hold) expiry checks
        self.pid = os.getpid()
        self.sid = os.getsid(0)
        self.dog = Watchdog(self)
        # the first worker starts by taking every lock of the tree once,
        # the root too, so that every run covers the whole tree (random
        # choices under contention rarely find the root free)
        self.tour = [p for p, _ in TREE] if wid == 0 else []

    # ---- log ---------------------------------------------------------
    def log(self, rec):
        os.write(self.logfd, (json.dumps(rec, separators=(",", ":")) +
                              "\n").encode())

    def hlog(self, ev, h, t, **kw):
        rec = {"ev": ev, "h": h.hid, "w": self.wid, "t": t}
        rec.update(kw)
        self.log(rec)

    def new_hid(self):
        self.seq += 1
        return "%d.%d" % (self.wid, self.seq)

    # ---- choices -----------------------------------------------------
    def pick_path(self):
        t = now()
        for _ in range(20):
            path = self.rng.choices([p for p, _ in TREE],
                                    [w for _, w in TREE])[0]
            if self.avoid.get(node_of(path), 0) <= t:
                return path
        return None

    def hold_time(self):
        """0-200 ms, mostly short, so that hand-overs are many."""
        r = self.rng.random()
        if r < 0.5:
            return self.rng.uniform(0, 0.002)
        if r < 0.85:
            return self.rng.uniform(0, 0.03)
        return self.rng.uniform(0.03, 0.2)

    # ---- waiting -----------------------------------------------------
    def call(self, fn, blocking):
        """Run a libc call that may wait; returns (result, errno)."""
        action = "intr"
        secs = self.rng.uniform(1, 4) if blocking else 10
        if blocking and self.rng.random() < self.kill_rate:
            action, secs = "kill", self.rng.uniform(0, 0.3)
        self.dog.arm(secs, action)
        try:
            ctypes.set_errno(0)
            r = fn()
            e = cerr() if r < 0 else 0
        finally:
            self.dog.disarm()
        return r, e

    def outcome(self, how, path, t_req, e, mount=None):
        if e in (errno.EAGAIN, errno.EEXIST):
            ev = "busy"
        elif e == errno.EINTR:
            ev = "timeout"
        else:
            ev = "error"
        self.log({"ev": ev, "w": self.wid, "t": now(), "t_req": t_req,
                  "how": how, "path": path, "err": ename(e),
                  "mount": mount and mount["node"]})

    # ---- tokens and proofs -------------------------------------------
    def read_info(self, h):
        """The lock's text, through the held descriptor when it reads."""
        if h.fd is not None and h.kind == "handle":
            return os.pread(h.fd, 65536, 0).decode("utf-8", "replace")
        fd = os.open(h.full, os.O_RDONLY)
        try:
            return os.read(fd, 65536).decode("utf-8", "replace")
        finally:
            os.close(fd)

    def mine(self, h, blk):
        if h.kind == "handle":
            return blk.get("kind") == "handle" and \
                blk.get("pid") == str(self.pid)
        return blk.get("kind") == "lease" and \
            blk.get("session") == str(self.sid) and \
            blk.get("node") == h.mount["node"]

    def read_token(self, h):
        """The token of a new grant: the xattr for an exclusive lock (the
        only holder), for a shared one the info text's token when our
        holder block is the newest (blocks are oldest grant first)."""
        if h.mode == "x":
            src = h.fd if h.fd is not None else h.full
            return int(os.getxattr(src, XATTR))
        top, blocks = self.parse(h)
        if blocks and self.mine(h, blocks[-1]):
            return int(top["token"])
        if not any(self.mine(h, b) for b in blocks):
            raise OSError(errno.ENODATA, "our holder block is missing")
        return None

    def parse(self, h):
        return parse_info(self.read_info(h))

    def prove(self, h):
        """Log a proof that the hold is still ours (or why not)."""
        t = now()
        via = "fd" if h.fd is not None else "path"
        try:
            if h.mode == "x" and h.token is not None:
                src = h.fd if h.fd is not None else h.full
                tok = int(os.getxattr(src, XATTR))
                ok, why = tok == h.token, "other-token"
            else:
                _, blocks = self.parse(h)
                ok, why = any(self.mine(h, b) for b in blocks), "absent"
        except OSError as e:
            ok = False
            why = "absent" if e.errno in (errno.ENOENT, errno.ENODATA) \
                else ename(e.errno)
        if ok:
            self.hlog("proof", h, t)
        else:
            self.hlog("verify-failed", h, t, why=why, via=via, t_done=now())
        return ok

    def granted(self, h, t_req, t):
        """Log a grant; a grant whose token cannot be read is abandoned."""
        try:
            h.token = self.read_token(h)
        except (OSError, ValueError, KeyError) as e:
            self.log({"ev": "abandon", "w": self.wid, "t": now(),
                      "path": h.path, "why": "token: %s" % e})
            raise Abandon()
        lease = h.kind == "lease"
        self.hlog("grant", h, t, t_req=t_req, path=h.path, node=h.node,
                  mode=h.mode, token=h.token, kind=h.kind, how=h.how,
                  mount=h.mount["node"],
                  ttl_ms=h.mount["ttl_ms"] if lease else None,
                  ka=h.mount["ka"] if lease else None)

    def maybe_die(self, holds):
        if self.rng.random() >= self.kill_rate:
            return
        for h in holds:
            self.prove(h)
        self.log({"ev": "kill", "w": self.wid, "t": now(),
                  "holds": [h.hid for h in holds], "waiting": False})
        os.kill(os.getpid(), signal.SIGKILL)

    # ---- release -----------------------------------------------------
    def release_lease(self, h):
        self.prove(h)
        self.hlog("release", h, now(), path=h.path, node=h.node,
                  mode=h.mode, token=h.token, by="unlink")
        try:
            os.unlink(h.full)
            self.hlog("released", h, now(), ok=True, err=None)
            ok = True
        except OSError as e:
            self.hlog("released", h, now(), ok=False, err=ename(e.errno))
            ok = e.errno in (errno.ESTALE, errno.ENOENT)
        if h.fd is not None:
            self.close(h.fd)
            h.fd = None
        if not ok:
            # may still be held in our name: leave, a new owner replaces us
            raise Abandon()

    def release_handle(self, h, how):
        self.prove(h)
        self.hlog("release", h, now(), path=h.path, node=h.node,
                  mode=h.mode, token=h.token, by=how)
        ok, err = True, None
        if how == "unlock":
            if h.how.startswith("fcntl"):
                fl = Flock(F_UNLCK, 0, 0, 0, 0)
                r = libc.fcntl(h.fd, F_SETLK, ctypes.byref(fl))
            else:
                r = libc.flock(h.fd, 8)  # LOCK_UN
            if r < 0:
                ok, err = False, ename(cerr())
        self.close(h.fd)
        h.fd = None
        self.hlog("released", h, now(), ok=ok, err=err)

    @staticmethod
    def close(fd):
        try:
            os.close(fd)
        except OSError:
            pass

    def renewals(self, h):
        """Now and then renew a held lease by a write."""
        r = self.rng.random()
        if r < 0.12:
            data, ttl, ka = "w%d pid %d\n" % (self.wid, self.pid), None, None
        elif r < 0.2:
            ttl = self.rng.choice([1000, 3000])
            data, ka = "ttl=%dms\n" % ttl, None
        elif r < 0.3 and h.mount["ka"] == "off":
            data, ttl, ka = "keepalive=session\n", None, "session"
        else:
            return
        if h.fd is None:
            # no descriptor (a lock-set member): truncate renews and can
            # never take the lock anew, as an open would if it were lost
            data, ttl, ka = None, None, None
        t = now()
        try:
            if data is None:
                os.truncate(h.full, 0)
            else:
                os.write(h.fd, data.encode())
        except OSError as e:
            self.hlog("renew-failed", h, t, err=ename(e.errno),
                      t_done=now())
            return
        self.hlog("renew", h, t, ttl_ms=ttl, ka=ka)

    # ---- operations --------------------------------------------------
    def op_lease(self, how, path=None):
        """One lease; `path` given: that lock, and the worker stays alive."""
        touring = path is not None
        mount = self.rng.choice(self.mounts)
        path = path or self.pick_path()
        if path is None:
            return
        flags = os.O_WRONLY | os.O_CREAT
        blocking = how in ("open", "excl", "expire")
        if how in ("open-nb", "expire-nb"):
            flags |= os.O_NONBLOCK
        if how == "excl":
            flags |= os.O_EXCL
        if how == "excl-nb":
            flags |= os.O_EXCL | os.O_NONBLOCK
        if self.rng.random() < 0.2:
            flags = (flags & ~os.O_WRONLY) | os.O_RDWR
        h = Hold(self.new_hid(), mount, path, "x", "lease", how)
        t_req = now()
        fd, e = self.call(lambda: libc.open(h.full.encode(), flags, 0o644),
                          blocking)
        t = now()
        if fd < 0:
            self.outcome(how, path, t_req, e, mount)
            return
        h.fd = fd
        self.granted(h, t_req, t)
        if how.startswith("expire"):
            return self.let_expire(h)
        if not touring:
            self.maybe_die([h])
        self.renewals(h)
        time.sleep(self.hold_time())
        self.release_lease(h)

    def let_expire(self, h):
        t = now()
        try:
            os.write(h.fd, b"keepalive=off\nttl=300ms\n")
        except OSError as e:
            self.hlog("renew-failed", h, t, err=ename(e.errno),
                      t_done=now())
            return self.release_lease(h)
        self.hlog("expire-suspected", h, t, ttl_ms=300)
        self.close(h.fd)
        h.fd = None
        # our own lease lingers: the same name again would renew it
        done = now()
        self.avoid[h.node] = done + 550_000_000
        self.later.append((done + 550_000_000, h))

    def check_expired(self):
        t = now()
        keep = []
        for when, h in self.later:
            if when > t:
                keep.append((when, h))
                continue
            try:
                tok = int(os.getxattr(h.full, XATTR))
            except (OSError, ValueError):
                continue
            if tok == h.token:
                self.hlog("late-expiry", h, t)
        self.later = keep

    def op_flock(self, how):
        mount = self.rng.choice(self.mounts)
        path = self.pick_path()
        if path is None:
            return
        shared = how.startswith("flock-sh")
        nb = how.endswith("-nb")
        h = Hold(self.new_hid(), mount, path, "s" if shared else "x",
                 "handle", how)
        op = (1 if shared else 2) | (4 if nb else 0)
        if self.take_handle(h, lambda fd: libc.flock(fd, op), not nb):
            self.hold_handle(h, 0.7)

    def take_handle(self, h, lock, blocking):
        """Open `h`'s file read-only (creating it, as flock(1) does) and
        take handle lock `h` through it with lock(fd); the grant or the
        failure is logged.  True when granted (then h.fd is set)."""
        try:
            fd = os.open(h.full, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as e:
            self.outcome(h.how, h.path, now(), e.errno, h.mount)
            return False
        t_req = now()
        r, e = self.call(lambda: lock(fd), blocking)
        t = now()
        if r < 0:
            self.close(fd)
            self.outcome(h.how, h.path, t_req, e, h.mount)
            return False
        h.fd = fd
        self.granted(h, t_req, t)
        return True

    def hold_handle(self, h, unlock_rate):
        """Hold handle lock `h` a while (or die holding it), then end it by
        an unlock (with probability `unlock_rate`) or by closing."""
        self.maybe_die([h])
        time.sleep(self.hold_time())
        self.release_handle(h, "unlock" if self.rng.random() < unlock_rate
                            else "close")

    def op_fcntl(self, how):
        mount = self.rng.choice(self.mounts)
        path = self.pick_path()
        if path is None:
            return
        nb = how.endswith("-nb")
        cmd = F_SETLK if nb else F_SETLKW
        if how.startswith("fcntl-sh"):
            h = Hold(self.new_hid(), mount, path, "s", "handle", how)
            fl = Flock(F_RDLCK, 0, 0, 0, 0)
            if not self.take_handle(
                    h, lambda fd: libc.fcntl(fd, cmd, ctypes.byref(fl)),
                    not nb):
                return
        else:
            # the Python pattern: a write open takes a lease, lockf
            # converts it into the handle lock
            lease = Hold(self.new_hid(), mount, path, "x", "lease",
                         "fcntl-open")
            flags = os.O_RDWR | os.O_CREAT | (os.O_NONBLOCK if nb else 0)
            t_req = now()
            fd, e = self.call(
                lambda: libc.open(lease.full.encode(), flags, 0o644), not nb)
            t = now()
            if fd < 0:
                self.outcome("fcntl-open", path, t_req, e, mount)
                return
            lease.fd = fd
            self.granted(lease, t_req, t)
            self.prove(lease)
            # the conversion ends the lease: logged as its release
            self.hlog("release", lease, now(), path=path, node=lease.node,
                      mode="x", token=lease.token, by="convert")
            fl = Flock(F_WRLCK, 0, 0, 0, 0)
            t_req = now()
            r, e = self.call(lambda: libc.fcntl(fd, cmd, ctypes.byref(fl)),
                             False)
            t = now()
            self.hlog("released", lease, now(), ok=r == 0,
                      err=None if r == 0 else ename(e))
            if r < 0:
                self.outcome(how, path, t_req, e, mount)
                return self.release_lease(lease)
            h = Hold(self.new_hid(), mount, path, "x", "handle", how, fd)
            self.granted(h, t_req, t)
        self.hold_handle(h, 0.6)

    def op_set(self, how):
        mount = self.rng.choice(self.mounts)
        t = now()
        for _ in range(10):
            names = self.rng.choice(SETS)
            if all(self.avoid.get(node_of(n.split(":")[-1]), 0) <= t
                   for n in names):
                break
        else:
            return
        nb = how == "set-nb"
        try:
            fd = os.open(os.path.join(mount["path"], ".lockfs/acquire"),
                         os.O_WRONLY | (os.O_NONBLOCK if nb else 0))
        except OSError as e:
            self.outcome(how, " ".join(names), now(), e.errno, mount)
            return
        line = (" ".join(names) + "\n").encode()
        t_req = now()
        r, e = self.call(lambda: libc.write(fd, line, len(line)), not nb)
        t = now()
        self.close(fd)
        if r < 0:
            self.outcome(how, " ".join(names), t_req, e, mount)
            return
        holds = []
        for n in names:
            mode, _, p = n.rpartition(":")
            holds.append(Hold(self.new_hid(), mount, p,
                              "s" if mode == "shared" else "x", "lease", how))
        for h in holds:
            # a member whose token cannot be read: leave, the others
            # expire (or go with our session)
            self.granted(h, t_req, t)
        self.maybe_die(holds)
        for h in holds:
            self.renewals(h)
        time.sleep(self.hold_time())
        bad = None
        for h in holds:
            try:
                self.release_lease(h)
            except Abandon as e:
                bad = e
        if bad:
            raise bad

    OPS = [("open", 22), ("open-nb", 10), ("excl", 2), ("excl-nb", 4),
           ("expire", 2), ("expire-nb", 1),
           ("flock-ex", 10), ("flock-ex-nb", 4), ("flock-sh", 6),
           ("flock-sh-nb", 3), ("fcntl-ex", 3), ("fcntl-ex-nb", 1),
           ("fcntl-sh", 3), ("fcntl-sh-nb", 1), ("set", 8), ("set-nb", 3)]

    def step(self):
        if self.tour:
            self.op_lease("open", self.tour.pop(0))
            return
        how = self.rng.choices([o for o, _ in self.OPS],
                               [w for _, w in self.OPS])[0]
        if how.startswith("flock"):
            self.op_flock(how)
        elif how.startswith("fcntl"):
            self.op_fcntl(how)
        elif how.startswith("set"):
            self.op_set(how)
        else:
            self.op_lease(how)

    def run(self):
        signal.signal(signal.SIGUSR1, lambda *_: None)
        signal.siginterrupt(signal.SIGUSR1, True)
        self.dog.start()
        self.log({"ev": "start", "w": self.wid, "t": now(), "pid": self.pid,
                  "uid": os.getuid()})
        while now() < self.until:
            self.check_expired()
            try:
                self.step()
            except Abandon:
                return 3
            except OSError as e:
                self.log({"ev": "error", "w": self.wid, "t": now(),
                          "how": "step", "err": ename(e.errno)})
                time.sleep(0.05)
            if self.rng.random() < 0.3:
                time.sleep(self.rng.uniform(0, 0.01))
        self.log({"ev": "exit", "w": self.wid, "t": now()})
        return 0


# ---- the driver ----------------------------------------------------------

def node_name(mount):
    with open(os.path.join(mount, ".lockfs/status")) as f:
        for line in f:
            if line.startswith("node="):
                return line.strip()[5:]
    raise SystemExit("history.py: %s: no node= in .lockfs/status" % mount)


def probe(mount, name):
    """Take a lease, read its ttl and keepalive, release it."""
    full = os.path.join(mount, name)
    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o644)
    try:
        with open(full) as f:
            top, blocks = parse_info(f.read())
    finally:
        os.unlink(full)
        os.close(fd)
    return parse_ms(blocks[0]["ttl"]), blocks[0]["keepalive"]


def setup(mounts):
    first = mounts[0]
    for ns in NAMESPACES:
        p = os.path.join(first, ns)
        os.makedirs(p, exist_ok=True)
        os.chmod(p, 0o1777)
    deadline = time.monotonic() + 10
    for m in mounts:
        for ns in NAMESPACES:
            while True:
                try:
                    if os.stat(os.path.join(m, ns)).st_mode & 0o7777 == 0o1777:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("history.py: %s/%s not visible" % (m, ns))
                time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--log", required=True)
    ap.add_argument("--workers", type=int, default=12)
    ap.add_argument("--users", default="lockfs-a,lockfs-b",
                    help="unprivileged users for the workers when root")
    ap.add_argument("--kill-rate", type=float, default=0.02)
    ap.add_argument("mounts", nargs="+")
    a = ap.parse_args()

    setup(a.mounts)
    mounts = []
    for m in a.mounts:
        # each mount's default lease ttl and keepalive, which the checker
        # counts on for leases that are not released
        ttl_ms, ka = probe(m, "hist-probe-%d" % os.getpid())
        mounts.append({"path": m, "node": node_name(m), "ttl_ms": ttl_ms,
                       "ka": ka})
    users = []
    if os.getuid() == 0:
        for u in filter(None, a.users.split(",")):
            try:
                users.append(pwd.getpwnam(u))
            except KeyError:
                pass
        if not users:
            print("history.py: no unprivileged users; workers run as root "
                  "(a stale rm could break another's lock)", file=sys.stderr)
    logfd = os.open(a.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND,
                    0o644)
    start = now()
    until = start + int(a.seconds * 1e9)

    def meta(**kw):
        rec = {"ev": "meta", "t": now()}
        rec.update(kw)
        os.write(logfd, (json.dumps(rec) + "\n").encode())

    meta(seed=a.seed, seconds=a.seconds, workers=a.workers,
         mounts=mounts, users=[u.pw_name for u in users])
    running = {}
    stats = {"spawned": 0, "killed": 0, "abandoned": 0, "other": 0}

    def spawn(wid):
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                os.setsid()
                if users:
                    u = users[wid % len(users)]
                    os.setgroups([])
                    os.setgid(u.pw_gid)
                    os.setuid(u.pw_uid)
                rc = Worker(a, wid, logfd, mounts, until).run()
            except BaseException as e:  # a worker never returns to main()
                try:
                    os.write(logfd, (json.dumps(
                        {"ev": "crash", "w": wid, "t": now(),
                         "why": repr(e)}) + "\n").encode())
                except OSError:
                    pass
            finally:
                os._exit(rc)
        running[pid] = wid
        stats["spawned"] += 1

    for wid in range(a.workers):
        spawn(wid)
    next_wid = a.workers
    hard = until + 30 * 10**9
    while running:
        if now() > hard:
            for pid in running:
                os.kill(pid, signal.SIGKILL)
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            time.sleep(0.02)
            continue
        running.pop(pid, None)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            stats["killed"] += 1
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3:
            stats["abandoned"] += 1
        elif not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            stats["other"] += 1
        else:
            continue
        if now() < until:
            spawn(next_wid)  # a new worker, a new owner
            next_wid += 1
    meta(end=True, **stats)
    print("seed=%d seconds=%g workers=%d spawned=%d killed=%d abandoned=%d "
          "crashed=%d leases=%s" % (
              a.seed, a.seconds, a.workers, stats["spawned"], stats["killed"],
              stats["abandoned"], stats["other"],
              ",".join("%s:%dms:%s" % (m["node"], m["ttl_ms"], m["ka"])
                       for m in mounts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
