#!/usr/bin/env python3
"""handoff.py - handoff latency between two nodes (issue 3/6 measure 2).

  handoff.py N1 N2 REDIS_HOST REDIS_PORT [ROUNDS]

A holder on node N1 releases a lock (unlink) while a waiter on node N2,
another owner in a session of its own, is blocked in open(); the latency is
from just before unlink() to the moment open() returns, on one monotonic
clock.  The floor is a Redis PING round trip measured in the same run.
It learns that the waiter is queued from N2's own counters (its metrics
file, which asks Redis nothing), so that the cost of a round (cost.py) is
the handoff's alone.
Prints one line with p50/p99 of both and the ratio.  A benchmark: it prints,
it does not judge.
"""
import os
import socket
import subprocess
import sys
import time

WAITER = r"""
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
print(time.monotonic_ns(), flush=True)
os.close(fd)
os.unlink(sys.argv[1])
"""


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def queued(node):
    """How many waits started on mount `node` so far (its metrics)."""
    with open(os.path.join(node, ".lockfs/metrics")) as f:
        for line in f:
            if line.startswith("lockfs_lock_events_total") and \
                    'event="waiting"' in line:
                return int(float(line.split()[-1]))
    return 0


def ping_rtts(host, port, rounds):
    s = socket.create_connection((host, port))
    out = []
    for _ in range(rounds):
        t = time.monotonic_ns()
        s.sendall(b"PING\r\n")
        s.recv(64)
        out.append(time.monotonic_ns() - t)
    s.close()
    return out


def main():
    n1, n2, host, port = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 50
    os.makedirs(os.path.join(n1, "bench"), exist_ok=True)
    lock1 = os.path.join(n1, "bench", "handoff")
    lock2 = os.path.join(n2, "bench", "handoff")
    lat = []
    for _ in range(rounds):
        os.close(os.open(lock1, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK))
        before = queued(n2)
        p = subprocess.Popen([sys.executable, "-c", WAITER, lock2],
                             stdout=subprocess.PIPE, start_new_session=True)
        deadline = time.time() + 10
        while queued(n2) == before and time.time() < deadline:
            time.sleep(0.005)
        t0 = time.monotonic_ns()
        os.unlink(lock1)
        # (the waiter unlinks its lock before it exits)
        out, _ = p.communicate(timeout=30)
        lat.append(int(out.split()[0]) - t0)
    rtt = ping_rtts(host, int(port), 1000)
    p50, p99, f50 = pct(lat, 50), pct(lat, 99), pct(rtt, 50)
    print("handoff: rounds=%d p50=%.2fms p99=%.2fms redis_ping_p50=%.3fms "
          "ratio_p50=%.1f (target <= 6)" % (rounds, p50 / 1e6, p99 / 1e6,
                                            f50 / 1e6, p50 / f50))


if __name__ == "__main__":
    main()
