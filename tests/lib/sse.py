#!/usr/bin/python3
"""sse.py - how soon does an event reach a Server-Sent Events client?

    sse.py URL REGEX CMD...

Connects to URL (an /events stream), waits for the stream's opening
(its "retry:" line), runs CMD, and prints the seconds from CMD's start
until a "data:" line matching REGEX arrives, then that line; or "none"
if none arrives within 10 s.  Only the standard library.
"""
import re
import subprocess
import sys
import time
import urllib.request


def main():
    url, pattern, cmd = sys.argv[1], re.compile(sys.argv[2]), sys.argv[3:]
    with urllib.request.urlopen(url, timeout=10) as r:
        for raw in r:
            if raw.startswith(b"retry:"):
                break
        t0 = time.monotonic()
        subprocess.run(cmd, check=True)
        try:
            for raw in r:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("data: ") and pattern.search(line):
                    print("%.3f %s" % (time.monotonic() - t0, line[6:]))
                    return 0
                if time.monotonic() - t0 > 10:
                    break
        except OSError:  # the 10 s read timeout
            pass
    print("none")
    return 1


if __name__ == "__main__":
    sys.exit(main())
