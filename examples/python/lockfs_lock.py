#!/usr/bin/env python3
"""lockfs_lock.py - a lockfs lock as a Python context manager, and the
fencing token passed on to the resource it protects.

    from lockfs_lock import Lock, LockBusy, FencedResource

    with Lock("/locks/jobs/nightly", timeout=30) as lock:  # wait up to 30 s
        resource.write(lock.token, data)                  # fence every write

    try:
        with Lock("/locks/jobs/nightly", blocking=False):  # or do not wait
            run_the_job()
    except LockBusy:
        pass

Run as a script, it shows why the token matters:

    python3 lockfs_lock.py MOUNT/NAMESPACE/NAME [RESOURCE_FILE]

Client A takes the lock with a 1 s lease that nobody renews and "pauses"
(as a process does in a long GC pause or when its VM is frozen) while
client B, another owner, waits, gets the lock once A's lease has run out,
and writes to the resource.  When A wakes up, it still believes it holds
the lock; the resource refuses its write because A's token is older than
one it has already seen, and A's release fails with ESTALE.  Exit status 0
when all of that happened.

It is all plain file I/O:

  - os.open(path, O_WRONLY | O_CREAT) takes the lock; without O_NONBLOCK it
    waits in the daemon until the lock is granted.  A signal ends the wait
    (the daemon withdraws the request): the timeout is a SIGALRM
    (signal.setitimer, alarm() with sub-second precision) whose handler
    raises, since Python retries a system call interrupted by a signal
    whose handler returns (PEP 475).  With O_NONBLOCK a busy lock
    fails at once with EAGAIN (BlockingIOError).
  - the token is the extended attribute user.lockfs.token, or the line
    token= of the text the lock file reads as.
  - writing to the file renews the lease; lines ttl=DURATION and
    keepalive=session|off set those, any other text is a note.
  - os.unlink(path) releases; ESTALE there means the lease had expired or
    was broken meanwhile: the work done under it was not protected.

A lock is a lease of its owner: node, uid and session (see the README), so
threads of one process share it, and so do processes of one session.  The
timeout uses SIGALRM, so it works in the main thread only.
"""

import errno
import fcntl
import os
import signal
import subprocess
import sys
import tempfile

TOKEN_XATTR = "user.lockfs.token"


class LockBusy(BlockingIOError):
    """A non-blocking acquire found the lock held (EAGAIN)."""


class LockTimeout(TimeoutError):
    """A blocking acquire was not granted within its timeout."""


class LockLost(OSError):
    """The lease expired or was broken while we held it (ESTALE)."""


class _Alarm(Exception):
    pass


def read_info(path):
    """The lock's state as a dict: the first value of every key (for a
    shared lock, the oldest holder's); {} when the lock is free."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return {}
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key not in info:
            info[key] = value
    return info


class Lock:
    """A lease on the lock file `path`.

    blocking=False: raise LockBusy at once if the lock is held.
    timeout: seconds to wait at most (a float), then raise LockTimeout;
        None waits as long as it takes (or the mount's acquire_timeout);
        0 does not wait, as blocking=False.
    ttl, keepalive, note: written to the lock once it is held, e.g.
        ttl="1s", keepalive="off" (only writes renew it then: see renew()).
    """

    def __init__(self, path, blocking=True, timeout=None, ttl=None,
                 keepalive=None, note=None):
        self.path = path
        self.blocking = blocking
        self.timeout = timeout
        self.commands = []
        if ttl is not None:
            self.commands.append(f"ttl={ttl}")
        if keepalive is not None:
            self.commands.append(f"keepalive={keepalive}")
        if note is not None:
            self.commands.append(note)
        self.fd = None
        self.token = None

    def acquire(self):
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
        if not self.blocking or (self.timeout is not None
                                 and self.timeout <= 0):
            flags |= os.O_NONBLOCK
        try:
            self.fd = self._open(flags)
        except BlockingIOError as e:
            raise LockBusy(e.errno, f"{self.path} is busy") from None
        except OSError as e:
            if e.errno == errno.ETIMEDOUT:  # the mount's acquire_timeout
                raise LockTimeout(e.errno, f"{self.path}: timed out") from None
            raise
        try:
            if self.commands:
                os.write(self.fd, ("\n".join(self.commands) + "\n").encode())
            self.token = self._read_token()
        except BaseException:
            self.release()
            raise
        return self

    def _open(self, flags):
        if flags & os.O_NONBLOCK or self.timeout is None:
            return os.open(self.path, flags, 0o666)
        # The alarm rings at the timeout and then every 50 ms: one that
        # lands in the instant before open() enters the kernel is handled
        # there and lost to the call, which would wait on; the next one
        # ends it.  Only the first ring raises (`armed`), so nothing is
        # raised once we have left the wait.
        armed = [True]

        def ring(signum, frame):
            if armed[0]:
                armed[0] = False
                raise _Alarm()

        old = signal.signal(signal.SIGALRM, ring)
        try:
            try:
                signal.setitimer(signal.ITIMER_REAL, self.timeout, 0.05)
                return os.open(self.path, flags, 0o666)
            finally:
                armed[0] = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Alarm:
            # The alarm may also ring in the instant after the open was
            # granted and before the timer is off; then the lock is ours
            # (this process took it, in this session) but the descriptor is
            # lost: give the lock back rather than hold it unknowingly.
            info = read_info(self.path)
            if (info.get("pid") == str(os.getpid())
                    and info.get("session") == str(os.getsid(0))):
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            raise LockTimeout(errno.ETIMEDOUT,
                              f"{self.path}: not granted within "
                              f"{self.timeout} s") from None
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    def _read_token(self):
        try:
            return int(os.getxattr(self.fd, TOKEN_XATTR))
        except OSError:
            # no xattr support on the way (an old kernel, a proxy): the
            # token is also in the text
            return int(read_info(self.path)["token"])

    def renew(self, ttl=None):
        """Renew the lease (needed only with keepalive=off), optionally
        with a new length; LockLost if it was lost meanwhile."""
        try:
            if ttl is None:
                os.ftruncate(self.fd, 0)  # truncation renews
            else:
                os.write(self.fd, f"ttl={ttl}\n".encode())
        except OSError as e:
            if e.errno == errno.ESTALE:
                raise LockLost(e.errno, f"{self.path}: lock lost") from None
            raise

    def release(self):
        """Release the lock; LockLost if it had been lost meanwhile."""
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            os.unlink(self.path)
        except OSError as e:
            if e.errno == errno.ESTALE:
                raise LockLost(e.errno, f"{self.path}: lock lost") from None
            raise
        finally:
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, exc_type, exc, tb):
        try:
            self.release()
        except LockLost:
            if exc_type is None:
                raise  # the body's own exception is the more important one


class StaleToken(Exception):
    def __init__(self, token, highest):
        super().__init__(f"token {token} is older than {highest}")
        self.token = token
        self.highest = highest


class FencedResource:
    """What the lock protects - here a local file standing for a database
    row or a storage bucket.  It keeps the highest token it has seen and
    refuses a write that carries an older one: a holder that lost its lock
    without knowing it can do no harm.  A real resource does the same check
    in its own transaction (e.g. UPDATE ... WHERE token <= :token)."""

    def __init__(self, path):
        self.path = path

    def write(self, token, data):
        with open(self.path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # check and write as one step
            f.seek(0)
            highest = max((int(line.split(" ", 1)[0]) for line in f), default=0)
            if token < highest:
                raise StaleToken(token, highest)
            f.write(f"{token} {data}\n")


def client_b(path, resource):
    """The other owner of the demo (its own session)."""
    try:
        with Lock(path, blocking=False):
            pass
    except LockBusy:
        info = read_info(path)
        print(f"B: busy, held by node {info.get('node')} pid {info.get('pid')}"
              f" (token {info.get('token')}); waiting up to 10 s", flush=True)
    with Lock(path, timeout=10, note="client B") as lock:
        print(f"B: acquired, token {lock.token}", flush=True)
        resource.write(lock.token, "written by B")
        print(f"resource: accepted token {lock.token}", flush=True)
    print("B: released", flush=True)


def demo(path, resource):
    with Lock(path, timeout=10, ttl="1s", keepalive="off",
              note="client A") as a:
        print(f"A: acquired {path}, token {a.token}", flush=True)
        resource.write(a.token, "written by A")
        print(f"resource: accepted token {a.token}", flush=True)

        print("A: pauses; its 1 s lease, with keepalive=off, runs out",
              flush=True)
        subprocess.run([sys.executable, os.path.abspath(__file__), "--client-b",
                        path, resource.path], check=True,
                       start_new_session=True)  # another owner

        print(f"A: wakes up and writes with token {a.token}", flush=True)
        try:
            resource.write(a.token, "written by A after its pause")
            print("resource: accepted a stale token: fencing FAILED")
            return 1
        except StaleToken as e:
            print(f"resource: refused token {e.token}, it has seen {e.highest}")
        try:
            a.release()
            print("A: released; the lock was NOT lost: fencing untested")
            return 1
        except LockLost:
            print("A: release: ESTALE, the lock had been lost meanwhile")
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--client-b":
        client_b(argv[2], FencedResource(argv[3]))
        return 0
    if len(argv) not in (2, 3) or argv[1].startswith("-"):
        print(f"usage: {argv[0]} MOUNT/NAMESPACE/NAME [RESOURCE_FILE]",
              file=sys.stderr)
        return 2
    if len(argv) == 3:
        return demo(argv[1], FencedResource(argv[2]))
    with tempfile.TemporaryDirectory() as tmp:
        return demo(argv[1], FencedResource(os.path.join(tmp, "resource")))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
