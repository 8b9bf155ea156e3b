#!/usr/bin/env python3
"""requests.py - many request handles pending at once from one asyncio
thread (the README, "Waiting without a thread"), for bench.sh.

  requests.py MOUNT NS COUNT READYFILE [hold]

Opens COUNT handles of MOUNT/.lockfs/request and writes NS/l<i> to the
i-th (each write returns once the request is queued: NS/.lock is held
elsewhere), creates READYFILE, then waits for every outcome with one
epoll (loop.add_reader), removing each lock as it is granted.  Prints

  requests queued=COUNT queue_s=.. granted=N grant_s=.. errors=E

(grant_s from READYFILE).  With `hold`, it never reads: it sleeps once
READYFILE exists, until killed (its handles then close: every request
is withdrawn).
"""
import asyncio
import os
import resource
import sys
import time


async def main(mount, ns, count, ready, hold):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000),
                                                    hard))
    path = os.path.join(mount, ".lockfs/request")
    t0 = time.monotonic()
    fds = []
    for i in range(count):
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        os.write(fd, ("%s/l%d\n" % (ns, i)).encode())
        fds.append(fd)
    queue_s = time.monotonic() - t0
    open(ready, "w").close()
    t1 = time.monotonic()
    if hold:
        while True:
            await asyncio.sleep(3600)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    left = [count]
    granted, errors = [0], [0]

    def on_ready(i, fd):
        line = os.read(fd, 4096).decode()
        loop.remove_reader(fd)
        os.close(fd)
        if line.startswith("granted "):
            granted[0] += 1
            os.unlink(os.path.join(mount, "%s/l%d" % (ns, i)))
        else:
            errors[0] += 1
        left[0] -= 1
        if left[0] == 0:
            done.set_result(None)

    for i, fd in enumerate(fds):
        loop.add_reader(fd, on_ready, i, fd)
    await done
    print("requests queued=%d queue_s=%.2f granted=%d grant_s=%.2f errors=%d"
          % (count, queue_s, granted[0], time.monotonic() - t1, errors[0]))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]),
                     sys.argv[4], len(sys.argv) > 5))
