#!/usr/bin/python3
"""peers.py - one handoff measure and one contended measure, the same for
lockfs and its peers.

  peers.py lockfs DIR1 DIR2 ROUNDS    two mounts of one tree (two nodes)
  peers.py redis PORT SLEEP ROUNDS    redis-py Lock, polling every SLEEP s
  peers.py pubsub PORT ROUNDS         a Redis lock woken by pub/sub, as
                                      Redisson takes one: SET NX PX, and
                                      waiters subscribed to its releases
  peers.py zookeeper PORT ROUNDS      kazoo Lock (predecessor watch)
  peers.py etcd URL ROUNDS            etcd's lock recipe, gRPC client

  peers.py contend lockfs DIR1 DIR2 DIR3 SECONDS   three mounts (nodes)
  peers.py contend redis PORT SLEEP SECONDS        (and so on: the same
  peers.py contend zookeeper PORT SECONDS           arguments as above,
  peers.py contend etcd URL SECONDS                 SECONDS for ROUNDS)

Handoff: two processes take one lock in turn, each holding it 2 ms.  The
other one is already blocked in its acquire when the holder lets go; the
handoff is the time from just before the release call to the waiter's
acquire returning (CLOCK_MONOTONIC is the same for both processes).  Prints
"handoff p50=... p99=... ms (N handoffs)".

Contend: 3 nodes x 8 processes (24, each its own client: for lockfs, 8 on
each mount, each in a session of its own) loop on one lock for SECONDS:
acquire, hold 100 us, release, as tests/bench/contend.c does for lockfs.
Grants from the start to the deadline are counted; then every process
stops asking, and a wait still open at the deadline is let finish (it is
granted and released, not counted; the time it had waited by the deadline
is its "unserved" wait).  Prints on one line

  contend grants_per_s=.. fifo_inversions=K max_wait_ms=.. p99_wait_ms=..
  max_unserved_ms=.. (N grants)

A FIFO inversion is a pair of counted grants where A started waiting more
than 5 ms before B but B was granted first, as in contend.c.
"""
import multiprocessing as mp
import os
import queue
import sys
import time

HOLD_S = 0.002
CONTEND_NODES = 3
CONTEND_PER_NODE = 8
CONTEND_HOLD_S = 0.0001  # time.sleep: the timer slack adds some 50 us
INVERSION_S = 0.005
GRACE_S = 60  # after the deadline, for the last waits and the reports


def lockfs_lock(argv, me):
    # handoff: worker 0 on DIR1, 1 on DIR2; contend: 0, 3, 6.. on DIR1,
    # 1, 4, 7.. on DIR2, 2, 5, 8.. on DIR3 (8 on each)
    path = os.path.join(argv[me % len(argv)], "peers")

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


PUBSUB_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', KEYS[2], '')
  return 1
end
return 0"""


def pubsub_lock(argv, me):
    """Redisson's way with redis-py: SET NX PX; a waiter subscribes to the
    lock's release channel first, tries again, and then sleeps until a
    release is published (or the holder's lease would have run out); the
    release deletes the key only while it is still ours and publishes."""
    import redis
    r = redis.Redis(port=int(argv[0]))
    token = "w%d.%d" % (me, os.getpid())
    sub = r.pubsub(ignore_subscribe_messages=True)
    sub.subscribe("peers-lock:released")
    unlock = r.register_script(PUBSUB_UNLOCK)

    def acquire():
        while not r.set("peers-lock", token, nx=True, px=30000):
            ttl = r.pttl("peers-lock")
            sub.get_message(timeout=ttl / 1000 if ttl > 0 else 0.001)

    def release(_):
        unlock(keys=["peers-lock", "peers-lock:released"], args=[token])
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
    """etcd's own lock recipe (Go's clientv3/concurrency Mutex) with the
    gRPC client python3-etcd3: put a key of our own under the lock's
    prefix, bound to our lease; the lock is ours when no key under the
    prefix was created before ours; else watch the one created just before
    ours until it is deleted (from the revision of that look, so a
    delete is never missed), and look again.  FIFO, one watch per waiter, as kazoo."""
    import etcd3
    host, port = argv[0].rsplit("/", 1)[-1].rsplit(":", 1)
    c = etcd3.client(host=host, port=int(port), timeout=60)
    lease = c.lease(120)
    prefix = "/peers-lock/"
    key = prefix + "%x" % lease.id

    def acquire():
        c.transaction(compare=[c.transactions.create(key) == 0],
                      success=[c.transactions.put(key, "", lease=lease)],
                      failure=[])
        mine = c.get(key)[1].create_revision
        while True:
            r = c.get_prefix_response(prefix)
            before = [kv for kv in r.kvs if kv.create_revision < mine]
            if not before:
                return
            last = max(before, key=lambda kv: kv.create_revision)
            # from the revision just read, as the Go recipe does: a watch
            # from an older one is served by etcd's catch-up loop, every
            # 100 ms
            events, cancel = c.watch(
                last.key, start_revision=r.header.revision + 1)
            for ev in events:
                if isinstance(ev, etcd3.events.DeleteEvent):
                    break
            cancel()

    def release(_):
        c.delete(key)
    return acquire, release


SYSTEMS = {"lockfs": (lockfs_lock, 2), "redis": (redis_lock, 2),
           "pubsub": (pubsub_lock, 1),
           "zookeeper": (zookeeper_lock, 1), "etcd": (etcd_lock, 1)}


def nargs_of(system, contend):
    """How many arguments SYSTEM takes: lockfs one mount per node."""
    _, nargs = SYSTEMS[system]
    return CONTEND_NODES if contend and system == "lockfs" else nargs


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


def contender(system, argv, me, seconds, connected, go, t0, results):
    """Loops acquire, hold, release until the deadline; reports its grants
    as (started waiting, granted) pairs and its wait cut by the deadline."""
    os.setsid()  # another owner (lockfs: another session)
    make, _ = SYSTEMS[system]
    grants, unserved = [], 0.0
    try:
        acquire, release = make(argv, me)
        connected.wait()
        go.wait()
        deadline = t0.value + seconds
        while True:
            start = time.monotonic()
            if start >= deadline:
                break
            h = acquire()
            granted = time.monotonic()
            if granted < deadline:
                grants.append((start, granted))
            else:
                unserved = deadline - start  # let it finish, uncounted
            time.sleep(CONTEND_HOLD_S)
            release(h)
    except Exception as e:  # reported by the parent, which then fails
        connected.abort()  # a parent still waiting for the others stops
        results.put((me, None, "%s: %s" % (type(e).__name__, e)))
        return
    results.put((me, grants, unserved))


def inversions(grants):
    """Pairs (A, B) with A.start + 5 ms < B.start and B.grant < A.grant,
    in O(n log n) as contend.c does: sweep B by start, add each A that
    started early enough to a Fenwick tree over grant ranks, count those
    added that were granted later."""
    n = len(grants)
    rank = [0] * n  # grant i is the rank[i]-th granted, 1-based
    for r, i in enumerate(sorted(range(n), key=lambda i: grants[i][1])):
        rank[i] = r + 1
    by_start = sorted(range(n), key=lambda i: grants[i][0])
    tree = [0] * (n + 1)
    count = added = 0
    for b in by_start:
        while (added < n and
               grants[by_start[added]][0] + INVERSION_S < grants[b][0]):
            k = rank[by_start[added]]
            while k <= n:
                tree[k] += 1
                k += k & -k
            added += 1
        below, k = 0, rank[b]
        while k > 0:
            below += tree[k]
            k -= k & -k
        count += added - below
    return count


def contend(system, argv, seconds):
    procs = CONTEND_NODES * CONTEND_PER_NODE
    connected = mp.Barrier(procs + 1)  # every client set up
    go = mp.Event()
    t0 = mp.Value("d", 0.0)  # the common start, set before go
    results = mp.Queue()
    ps = [mp.Process(target=contender,
                     args=(system, argv, me, seconds, connected, go, t0,
                           results))
          for me in range(procs)]
    for p in ps:
        p.start()
    try:
        connected.wait(60)
    except Exception:
        print("contend: the clients did not all connect")
        for p in ps:
            p.terminate()
        sys.exit(1)
    t0.value = time.monotonic()
    go.set()
    # the reports, before the joins (a full queue would block its writer)
    grants, unserved, errors = [], 0.0, []
    until = t0.value + seconds + GRACE_S
    for _ in range(procs):
        try:
            me, g, u = results.get(timeout=max(until - time.monotonic(), 1))
        except queue.Empty:
            errors.append("a process did not report")
            break
        if g is None:
            errors.append("process %d: %s" % (me, u))
        else:
            grants.extend(g)
            unserved = max(unserved, u)
    for p in ps:
        p.join(max(until - time.monotonic(), 1))
        if p.is_alive():
            p.kill()
            p.join()
    for e in errors:
        print("contend: %s" % e)
    if errors or not grants:
        print("contend: failed (%d grants)" % len(grants))
        sys.exit(1)
    waits = sorted((g - s) * 1000 for s, g in grants)
    p99 = waits[min(len(waits) - 1, int(len(waits) * 0.99))]
    print("contend grants_per_s=%.1f fifo_inversions=%d max_wait_ms=%.2f"
          " p99_wait_ms=%.2f max_unserved_ms=%.2f (%d grants)"
          % (len(grants) / seconds, inversions(grants), waits[-1], p99,
             unserved * 1000, len(grants)))


def main():
    if sys.argv[1] == "contend":
        system = sys.argv[2]
        nargs = nargs_of(system, True)
        contend(system, sys.argv[3:3 + nargs], float(sys.argv[3 + nargs]))
        return
    system = sys.argv[1]
    nargs = nargs_of(system, False)
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
