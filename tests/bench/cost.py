#!/usr/bin/env python3
"""cost.py - what a stretch of work cost, in CPU time and in calls, which
a busy machine cannot hide the way it hides wall time.

  cost.py snap REDIS_PORT PID,PID,... MOUNT,MOUNT,...   > FILE
  cost.py diff NAME OPS BEFORE AFTER

`snap` prints one JSON object: the daemons' CPU (utime+stime of the PIDs),
the Redis server's CPU, its INFO commandstats (scripts: EVALSHA, EVAL,
FCALL; every other command, those run inside scripts included) and the
broker counters of the mounts' /.lockfs/metrics.  `diff` prints one line
per operation, OPS operations having run between the two snapshots:

  cost NAME: daemons_cpu=..us redis_cpu=..us redis_us=.. script_us=..
     scripts=.. transactions=.. commands=.. amqp_published=..
     amqp_delivered=.. amqp_bindings=..

redis_us is the time Redis spent on lockfs's calls: its scripts and its
transactions (a lookup that finds nothing).
"""
import json
import os
import socket
import sys

SCRIPTS = {"evalsha", "eval", "fcall", "fcall_ro", "evalsha_ro", "eval_ro"}
# lockfs's calls that are not scripts: a lookup that finds nothing is one
# transaction of plain commands (its EXEC's time covers them)
TRANSACTIONS = {"multi", "exec"}
# the bench's own questions, not lockfs's work
IGNORED = {"info", "ping", "config", "client", "hello", "command"}
HZ = os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000 // HZ


def redis(port, *args):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as s:
        cmd = f"*{len(args)}\r\n" + "".join(
            f"${len(a)}\r\n{a}\r\n" for a in args)
        s.sendall(cmd.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if data.startswith(b"$"):
                head, _, rest = data.partition(b"\r\n")
                if len(rest) >= int(head[1:]) + 2:
                    return rest[:int(head[1:])].decode()


def snap(port, pids, mounts):
    info = redis(port, "INFO", "all")
    out = {"daemons_cpu": sum(cpu_us(p) for p in pids if p),
           "redis_cpu": 0, "script_us": 0, "scripts": 0, "commands": 0,
           "tx_us": 0, "transactions": 0,
           "amqp_published": 0, "amqp_delivered": 0, "amqp_bindings": 0}
    for line in info.splitlines():
        if line.startswith("process_id:"):
            out["redis_cpu"] = cpu_us(int(line.split(":")[1]))
        if not line.startswith("cmdstat_"):
            continue
        name, _, rest = line[len("cmdstat_"):].partition(":")
        kv = dict(x.split("=") for x in rest.split(","))
        if name in SCRIPTS:
            out["scripts"] += int(kv["calls"])
            out["script_us"] += int(kv["usec"])
        elif name in TRANSACTIONS:
            out["tx_us"] += int(kv["usec"])
            out["transactions"] += int(kv["calls"]) if name == "exec" else 0
        elif name not in IGNORED:
            out["commands"] += int(kv["calls"])
    for m in mounts:
        try:
            with open(os.path.join(m, ".lockfs/metrics")) as f:
                for line in f:
                    for k in ("published", "delivered", "bindings"):
                        if line.startswith(f"lockfs_amqp_{k}_total"):
                            out["amqp_" + k] += int(float(line.split()[-1]))
        except OSError:
            pass
    return out


def main(argv):
    if argv[1] == "snap":
        pids = [int(p) for p in argv[3].split(",") if p]
        print(json.dumps(snap(argv[2], pids, argv[4].split(","))))
        return 0
    name, ops = argv[2], max(1, int(argv[3]))
    with open(argv[4]) as f:
        a = json.load(f)
    with open(argv[5]) as f:
        b = json.load(f)
    d = {k: (b[k] - a[k]) / ops for k in a}
    print(f"cost {name}: daemons_cpu={d['daemons_cpu']:.0f}us "
          f"redis_cpu={d['redis_cpu']:.0f}us "
          f"redis_us={d['script_us'] + d.get('tx_us', 0):.1f} "
          f"script_us={d['script_us']:.1f} "
          f"scripts={d['scripts']:.2f} "
          f"transactions={d.get('transactions', 0):.2f} "
          f"commands={d['commands']:.1f} "
          f"amqp_published={d['amqp_published']:.2f} "
          f"amqp_delivered={d['amqp_delivered']:.2f} "
          f"amqp_bindings={d['amqp_bindings']:.2f} (per operation, {ops} ops)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
