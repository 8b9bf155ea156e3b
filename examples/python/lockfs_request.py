#!/usr/bin/env python3
"""lockfs_request.py - wait for lockfs locks from an asyncio event loop,
without a thread per wait, through request handles (MOUNT/.lockfs/request).

    import asyncio, lockfs_request

    async def job(n):
        async with lockfs_request.lock("/locks", f"jobs/job{n}") as tokens:
            ...                      # tokens: {"jobs/job3": 42}

    asyncio.run(asyncio.wait_for(job(3), timeout=60))

Each request is one open of MOUNT/.lockfs/request: writing a lock-set line
queues it and returns at once, the event loop watches the descriptor
(loop.add_reader: POLLIN once the outcome is there), and reading it gives
"granted NAME=TOKEN ..." or "error ERRNAME".  Cancelling the wait (a
timeout, task.cancel()) closes the handle, which withdraws the request;
leaving the `async with` removes the locks.

Run as a script, it waits for COUNT locks at once in one thread, holds
them all while some other owner's locks go, and prints how long it took:

    python3 lockfs_request.py MOUNT NAMESPACE COUNT
"""
import asyncio
import contextlib
import errno
import os
import sys


class LockError(OSError):
    """The request ended without the locks: errno and its name."""


def _open(mount):
    return os.open(os.path.join(mount, ".lockfs/request"),
                   os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)


async def acquire(mount, *names):
    """Queue for NAMES (optionally "shared:NAME") as one set and wait for
    them; returns {name: token}.  Raises LockError (ETIMEDOUT, EDEADLK,
    ...) or OSError from the write (EINVAL, ENOENT, EACCES...)."""
    loop = asyncio.get_running_loop()
    fd = _open(mount)
    try:
        os.write(fd, (" ".join(names) + "\n").encode())
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        line = os.read(fd, 65536).decode().strip()
    finally:
        os.close(fd)  # before the grant: withdraws; after: releases nothing
    word, _, rest = line.partition(" ")
    if word != "granted":
        code = getattr(errno, rest, errno.EIO)
        raise LockError(code, "%s: %s" % (" ".join(names), rest))
    return dict(item.rsplit("=", 1) for item in rest.split())


def release(mount, names):
    """rm of each granted lock (the names acquire() returned)."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(mount, name))


@contextlib.asynccontextmanager
async def lock(mount, *names):
    tokens = await acquire(mount, *names)
    try:
        yield tokens
    finally:
        release(mount, tokens)


async def _demo(mount, ns, count):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    got = await asyncio.gather(*(acquire(mount, "%s/l%d" % (ns, i))
                                 for i in range(count)))
    print("granted %d locks in %.2f s, one thread" % (len(got),
                                                     loop.time() - t0))
    for tokens in got:
        release(mount, tokens)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: lockfs_request.py MOUNT NAMESPACE COUNT")
    asyncio.run(_demo(sys.argv[1], sys.argv[2], int(sys.argv[3])))
