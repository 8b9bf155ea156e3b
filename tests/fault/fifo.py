#!/usr/bin/env python3
"""fifo.py - first come, first served: inversions in what workload.py logged.

  fifo.py DIR [--gap MS]

Reads DIR/*.log (holds with "tq", the moment the request was made).  An
inversion is two grants of one lock where the request made more than GAP
ms (default 100) earlier was granted later.  Requests closer than GAP may
reach Redis in either order (their nodes take a while to ask), so they are
not counted.  Prints "holds=N inversions=K" and, per worker, whether every
worker was granted something: "workers=W starved=S".  Exit 0 always; the
suite decides.
"""
import glob
import json
import os
import sys


def main(argv):
    gap_ns = 100 * 1000000
    if "--gap" in argv:
        gap_ns = int(argv[argv.index("--gap") + 1]) * 1000000
    by_node, workers, granted = {}, set(), set()
    for path in glob.glob(os.path.join(argv[1], "*.log")):
        workers.add(path)
        with open(path) as f:
            for line in f:
                try:
                    h = json.loads(line)
                except ValueError:
                    continue
                if "tq" not in h:
                    continue
                granted.add(path)
                by_node.setdefault(h["node"], []).append((h["t0"], h["tq"]))
    holds = inversions = 0
    worst = 0
    for grants in by_node.values():
        grants.sort()  # by grant time
        holds += len(grants)
        for i, (t0_a, tq_a) in enumerate(grants):
            for t0_b, tq_b in grants[i + 1:]:
                if tq_b + gap_ns < tq_a:  # b asked well before a, got it later
                    inversions += 1
                    worst = max(worst, tq_a - tq_b)
    print("holds=%d inversions=%d worst=%dms workers=%d starved=%d" %
          (holds, inversions, worst // 1000000, len(workers),
           len(workers - granted)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
