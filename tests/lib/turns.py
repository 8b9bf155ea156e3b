#!/usr/bin/env python3
"""turns.py - take one lock in turn with others until a deadline, logging
every hold, for the suites that check that no two holders ever overlap.

  turns.py PATH LOG UNTIL [STOPFILE]

Loops until the Unix time UNTIL (or until STOPFILE exists): a blocking open(O_WRONLY|O_CREAT) of PATH
(the lease view), "in <pid> <time>" appended to LOG, a 2 ms hold, "out <pid>
<time>", then unlink and close.  An open that fails (EIO while a master or
broker moves) is counted and tried again 50 ms later; an unlink that fails
(the hold was lost meanwhile) is ignored.  Prints "errors N" at the end.
cluster.sh's holds_never_overlap checks the log.
"""
import os
import sys
import time


def main():
    path, log, until = sys.argv[1], sys.argv[2], float(sys.argv[3])
    stop = sys.argv[4] if len(sys.argv) > 4 else None
    who, errors = str(os.getpid()), 0
    while time.time() < until and not (stop and os.path.exists(stop)):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT)
        except OSError:
            errors += 1
            time.sleep(0.05)
            continue
        with open(log, "a") as f:
            f.write("in %s %.3f\n" % (who, time.time()))
        time.sleep(0.002)
        with open(log, "a") as f:
            f.write("out %s %.3f\n" % (who, time.time()))
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)
    print("errors", errors)


if __name__ == "__main__":
    main()
