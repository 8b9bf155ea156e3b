#!/usr/bin/python3
"""peers.py - one handoff measure, the same for lockfs and its peers.

  peers.py lockfs DIR1 DIR2 ROUNDS    two mounts of one tree (two nodes)
  peers.py redis PORT SLEEP ROUNDS    redis-py Lock, polling every SLEEP s
  peers.py zookeeper PORT ROUNDS      kazoo Lock (predecessor watch)
  peers.py etcd URL ROUNDS            etcd's lock API (v3 JSON gateway)

Two processes take one lock in turn, each holding it 2 ms.  The other one
is already blocked in its acquire when the holder lets go; the handoff is
the time from just before the release call to the waiter's acquire
returning (CLOCK_MONOTONIC is the same for both processes).  Prints
"handoff p50=... p99=... ms (N handoffs)".
"""
import base64
import json
import multiprocessing as mp
import os
import sys
import time
import urllib.request

HOLD_S = 0.002


def lockfs_lock(argv, me):
    path = os.path.join(argv[me], "peers")

    def acquire():
        return os.open(path, os.O_WRONLY | os.O_CREAT)

    def release(fd):
        os.unlink(path)
        os.close(fd)
    return acquire, release


def redis_lock(argv, me):
    import redis
    r = redis.Redis(port=int(argv[0]))
    lk = r.lock("peers-lock", timeout=30, sleep=float(argv[1]))

    def acquire():
        lk.acquire(blocking=True)

    def release(_):
        lk.release()
    return acquire, release


def zookeeper_lock(argv, me):
    from kazoo.client import KazooClient
    zk = KazooClient(hosts="127.0.0.1:%s" % argv[0])
    zk.start(timeout=10)
    lk = zk.Lock("/peers", "w%d" % me)

    def acquire():
        lk.acquire()

    def release(_):
        lk.release()
    return acquire, release


def etcd_lock(argv, me):
    url = argv[0]

    def post(path, body):
        req = urllib.request.Request(
            url + path, data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=60).read())
    lease = post("/v3/lease/grant", {"TTL": 120})["ID"]
    name = base64.b64encode(b"peers").decode()

    def acquire():
        return post("/v3/lock/lock", {"name": name, "lease": lease})["key"]

    def release(key):
        post("/v3/lock/unlock", {"key": key})
    return acquire, release


SYSTEMS = {"lockfs": (lockfs_lock, 2), "redis": (redis_lock, 2),
           "zookeeper": (zookeeper_lock, 1), "etcd": (etcd_lock, 1)}


def worker(system, argv, me, rounds, turn, acquired_at, released_at, ready):
    """Round k is held by worker k % 2; the other waits in acquire."""
    os.setsid()  # another owner (lockfs: another session)
    make, _ = SYSTEMS[system]
    acquire, release = make(argv, me)
    ready.wait()
    for k in range(rounds):
        if k % 2 != me:
            continue
        # wait until the previous holder holds (it is round k - 1), then
        # ask: the acquire blocks until that holder lets go
        while turn.value < k - 1:
            time.sleep(0.0002)
        h = acquire()
        acquired_at[k] = time.monotonic()
        turn.value = k
        # the other worker asks for round k + 1 now; give its request the
        # hold to arrive
        time.sleep(HOLD_S)
        released_at[k] = time.monotonic()
        release(h)


def main():
    system = sys.argv[1]
    _, nargs = SYSTEMS[system]
    argv = sys.argv[2:2 + nargs]
    rounds = int(sys.argv[2 + nargs])
    acquired_at = mp.Array("d", rounds)
    released_at = mp.Array("d", rounds)
    turn = mp.Value("i", -1)
    ready = mp.Event()
    procs = [mp.Process(target=worker,
                        args=(system, argv, me, rounds, turn, acquired_at,
                              released_at, ready))
             for me in (0, 1)]
    for p in procs:
        p.start()
    time.sleep(1.0)  # both connected
    ready.set()
    for p in procs:
        p.join(300)
    samples = sorted((acquired_at[k] - released_at[k - 1]) * 1000
                     for k in range(2, rounds)
                     if acquired_at[k] and released_at[k - 1])
    if not samples:
        print("handoff: no samples")
        sys.exit(1)
    p50 = samples[len(samples) // 2]
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print("handoff p50=%.3f p99=%.3f ms (%d handoffs)"
          % (p50, p99, len(samples)))


if __name__ == "__main__":
    main()
