#!/usr/bin/env python3
"""workload.py - a seeded random lock workload on several mounts, logging
every hold it can prove, for check_holds.py (issue 7).

  workload.py --seed S --seconds T --log DIR [--workers N] MOUNT...

Workers (each in a session of its own, so each is another owner) pick, at
random from random.Random(seed, worker): a blocking or non-blocking lease
(open O_WRONLY|O_CREAT), a lease with O_EXCL, a flock (LOCK_EX or LOCK_SH,
blocking or LOCK_NB) on a read-only placeholder, a directory lock
(D/.lock), a lock set through /.lockfs/acquire, a short keepalive=off
lease left to expire, or a self-kill (SIGKILL) while holding; on a mount
chosen at random, on names of one small tree so that conflicts along the
hierarchy are common.  A killed worker is replaced.

Each worker writes JSON lines to DIR/w<N>.log.  A hold is logged as
{"node", "mode", "token", "t0", "t1", "w", "how"}: t0 taken right after the
grant returned, t1 right before the release was asked for (or the kill, or
the latest moment the expiring lease is sure to have lasted), on one
monotonic clock: the interval the hold is *proven* to cover.  Anything that
fails (EAGAIN, EINTR, ESTALE, EIO while a node restarts) is counted, not
logged as a hold.  Timings are never asserted here.
"""
import argparse
import errno
import fcntl
import json
import os
import random
import signal
import sys
import time

TREE = ["a/x", "a/y", "a/b/z", "a/b/w", "a/.lock", "a/b/.lock", "c/v",
        "c/.lock"]
SETS = [["a/x", "c/v"], ["a/b/z", "c/v"], ["a/y", "a/b/w"]]


def now():
    return time.monotonic_ns()


def node_of(path):
    """Lock node of a tree path: 'a/.lock' is node 'a'."""
    return path[:-len("/.lock")] if path.endswith("/.lock") else path


def token_of(target):
    """The fencing token of a held lock, from its xattr (fd or path)."""
    return int(os.getxattr(target, "user.lockfs.token"))


class Worker:
    def __init__(self, seed, index, mounts, log_dir, until, flat=None):
        self.rng = random.Random("%s/%d" % (seed, index))
        self.flat = flat
        self.index = index
        self.mounts = mounts
        self.until = until
        self.log = open(os.path.join(log_dir, "w%d.log" % index), "a",
                        buffering=1)
        self.counts = {}

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def hold(self, path, mode, token, t0, t1, how, tq=None):
        rec = {"node": node_of(path), "mode": mode, "token": token,
               "t0": t0, "t1": t1, "w": self.index, "how": how}
        if tq is not None:
            rec["tq"] = tq  # when the request was made (FIFO checks)
        self.log.write(json.dumps(rec) + "\n")

    def pause(self):
        time.sleep(self.rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05]))

    def maybe_die(self, path, mode, token, t0):
        """Now and then die while holding: the hold is proven until now."""
        if self.rng.random() < 0.03:
            self.hold(path, mode, token, t0, now(), "killed")
            self.log.flush()
            os.kill(os.getpid(), signal.SIGKILL)

    def lease(self, mount, path, flags, how):
        full = os.path.join(mount, path)
        tq = now()
        try:
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | flags, 0o644)
        except OSError as e:
            self.count(errno.errorcode.get(e.errno, str(e.errno)))
            return
        t0 = now()
        try:
            token = token_of(fd)
        except OSError:
            os.close(fd)
            self.count("token-unreadable")
            return
        self.count("lease")
        if not self.flat:
            self.maybe_die(path, "x", token, t0)
        self.pause()
        t1 = now()
        self.hold(path, "x", token, t0, t1, how, tq)
        try:
            os.unlink(full)
        except OSError as e:
            self.count("unlink-" + errno.errorcode.get(e.errno, "?"))
        os.close(fd)

    def expiring(self, mount, path):
        """A keepalive=off lease of 300 ms that is left to run out."""
        full = os.path.join(mount, path)
        try:
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK)
        except OSError as e:
            self.count(errno.errorcode.get(e.errno, str(e.errno)))
            return
        t0 = now()
        try:
            token = token_of(fd)
            tw = now()
            os.write(fd, b"keepalive=off\nttl=300ms\n")
        except OSError:
            os.close(fd)
            self.count("expiring-failed")
            return
        # renewed no earlier than tw for 300 ms: held at least until then
        self.hold(path, "x", token, t0, min(now(), tw + 300_000_000),
                  "expiring")
        os.close(fd)
        time.sleep(0.4)
        self.count("expired")

    def flock(self, mount, path):
        full = os.path.join(mount, path)
        shared = self.rng.random() < 0.4
        nonblock = self.rng.random() < 0.3
        op = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | \
            (fcntl.LOCK_NB if nonblock else 0)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError as e:
            self.count("open-" + errno.errorcode.get(e.errno, "?"))
            return
        try:
            fcntl.flock(fd, op)
        except OSError as e:
            os.close(fd)
            self.count("flock-" + errno.errorcode.get(e.errno, "?"))
            return
        t0 = now()
        mode = "s" if shared else "x"
        try:
            # a shared hold shows the lock's newest token, not its own
            token = None if shared else token_of(fd)
        except OSError:
            token = None
        self.count("flock")
        self.maybe_die(path, mode, token, t0)
        self.pause()
        self.hold(path, mode, token, t0, now(), "flock")
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def lockset(self, mount):
        names = self.rng.choice(SETS)
        fd = os.open(os.path.join(mount, ".lockfs/acquire"), os.O_WRONLY)
        try:
            os.write(fd, (" ".join(names) + "\n").encode())
        except OSError as e:
            os.close(fd)
            self.count("set-" + errno.errorcode.get(e.errno, "?"))
            return
        t0 = now()
        os.close(fd)
        try:
            tokens = [token_of(os.path.join(mount, n)) for n in names]
        except OSError:
            self.count("set-token-unreadable")
            tokens = [None] * len(names)
        self.count("set")
        self.pause()
        t1 = now()
        for n, tok in zip(names, tokens):
            self.hold(n, "x", tok, t0, t1, "set")
        for n in names:
            try:
                os.unlink(os.path.join(mount, n))
            except OSError as e:
                self.count("set-unlink-" + errno.errorcode.get(e.errno, "?"))

    def step(self):
        mount = self.rng.choice(self.mounts)
        if self.flat:  # many nodes: blocking leases on a flat set of locks
            self.lease(mount, self.rng.choice(self.flat), 0, "blocking")
            return
        path = self.rng.choice(TREE)
        r = self.rng.random()
        if r < 0.35:
            self.lease(mount, path, 0, "blocking")
        elif r < 0.5:
            self.lease(mount, path, os.O_NONBLOCK, "nonblocking")
        elif r < 0.55:
            self.lease(mount, path, os.O_EXCL | os.O_NONBLOCK, "excl")
        elif r < 0.8:
            self.flock(mount, path)
        elif r < 0.92:
            self.lockset(mount)
        else:
            self.expiring(mount, path)

    def run(self):
        signal.signal(signal.SIGALRM, lambda *_: None)  # ends a long wait
        while now() < self.until:
            signal.setitimer(signal.ITIMER_REAL, 5)
            try:
                self.step()
            except OSError as e:
                self.count("error-" + errno.errorcode.get(e.errno, "?"))
            signal.setitimer(signal.ITIMER_REAL, 0)
        self.log.write(json.dumps({"counts": self.counts}) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--log", required=True)
    ap.add_argument("--workers", type=int, default=9)
    ap.add_argument("--flat", type=int, default=0,
                    help="only blocking leases on FLAT locks m/l0...")
    ap.add_argument("mounts", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.log, exist_ok=True)
    flat = ["m/l%d" % i for i in range(a.flat)] or None
    for m in a.mounts:
        for d in ("a/b", "c", "m"):
            os.makedirs(os.path.join(m, d), exist_ok=True)
    until = now() + int(a.seconds * 1e9)
    running, kills, serial = {}, 0, 0

    def spawn(index):
        pid = os.fork()
        if pid == 0:
            os.setsid()
            try:
                Worker(a.seed, index, a.mounts, a.log, until, flat).run()
            finally:
                os._exit(0)
        running[pid] = index

    for i in range(a.workers):
        spawn(i)
    serial = a.workers
    while running:
        pid, status = os.wait()
        running.pop(pid, None)
        if os.WIFSIGNALED(status) and now() < until:
            kills += 1
            spawn(serial)  # a killed worker is replaced by a new owner
            serial += 1
    print("seed=%s workers=%d kills=%d" % (a.seed, serial, kills))


if __name__ == "__main__":
    sys.exit(main())
