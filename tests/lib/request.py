#!/usr/bin/env python3
"""request.py - drive one request handle (MOUNT/.lockfs/request) the way an
event-loop program does, printing one line per step (flushed), for the
suites:

  request.py wait MOUNT LINE GOFILE     write LINE, then poll() for the
        outcome and read it; keep the handle (and the process, its owner)
        until GOFILE exists.  Prints "written MS" (how long the write took)
        or "write-error ERRNAME", then "pollin MS" (from the write),
        "outcome LINE", "eof" (a second read gives nothing), "closed".
  request.py nonblock MOUNT LINE        write, then a read with O_NONBLOCK
        and a second write: "read-error EAGAIN", "write2-error EBUSY";
        then waits for the outcome as `wait` does, without a GOFILE.
  request.py eintr MOUNT LINE GOFILE    write; a blocking read interrupted
        by SIGALRM after 0.5 s ("read-interrupted"), then a blocking read
        again ("outcome LINE"); keep the handle until GOFILE exists.
  request.py close MOUNT LINE           write, then close at once ("closed").
  request.py write MOUNT LINE           one write: "ok" or "error ERRNAME".
  request.py race MOUNT LINE STOPFILE   write; create STOPFILE (its holder
        then lets go) and close the handle at once, racing the grant.
"""
import errno
import os
import select
import signal
import sys
import time


def errname(e):
    """EDEADLK, not Python's name for it (its alias EDEADLOCK)."""
    if e.errno == errno.EDEADLK:
        return "EDEADLK"
    return errno.errorcode.get(e.errno, str(e.errno))


def say(*words):
    print(*words, flush=True)


def ms_since(t):
    return "%.1f" % ((time.monotonic() - t) * 1000)


def open_request(mount, flags=0):
    return os.open(os.path.join(mount, ".lockfs/request"), os.O_RDWR | flags)


def write_line(fd, line):
    """The write; its time in ms, or None after saying why it failed."""
    t = time.monotonic()
    try:
        os.write(fd, (line + "\n").encode())
    except OSError as e:
        say("write-error", errname(e))
        return None
    return t


def outcome(fd, t):
    p = select.poll()
    p.register(fd, select.POLLIN)
    if not p.poll(60000):
        say("no-pollin")
        return
    say("pollin", ms_since(t))
    say("outcome", os.read(fd, 4096).decode().rstrip("\n"))
    try:
        say("eof" if os.read(fd, 4096) == b"" else "more")
    except OSError as e:  # the daemon is gone (an unmount)
        say("read-error", errname(e))


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.02)


class Alarm(Exception):
    pass


def on_alarm(signum, frame):
    raise Alarm()


def main(argv):
    cmd, mount, line = argv[1], argv[2], argv[3]
    if cmd == "write":
        fd = open_request(mount)
        try:
            os.write(fd, (line + "\n").encode())
            say("ok")
        except OSError as e:
            say("error", errname(e))
        return 0
    if cmd == "close":
        fd = open_request(mount)
        if write_line(fd, line) is not None:
            os.close(fd)
            say("closed")
        return 0
    if cmd == "race":
        fd = open_request(mount)
        if write_line(fd, line) is not None:
            open(argv[4], "w").close()
            time.sleep(0.0005 * (os.getpid() % 7))
            os.close(fd)
            say("closed")
        return 0
    if cmd == "nonblock":
        fd = open_request(mount, os.O_NONBLOCK)
        t = write_line(fd, line)
        if t is None:
            return 0
        for what, call in (("read", lambda: os.read(fd, 4096)),
                           ("write2", lambda: os.write(fd, b"other\n"))):
            try:
                call()
                say(what, "ok")
            except OSError as e:
                say(what + "-error",
                    errname(e))
        outcome(fd, t)
        return 0
    gofile = argv[4]
    fd = open_request(mount)
    t = write_line(fd, line)
    if t is None:
        return 0
    say("written", ms_since(t))
    if cmd == "wait":
        outcome(fd, t)
    elif cmd == "eintr":
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        try:
            os.read(fd, 4096)
            say("read-returned")
        except Alarm:
            say("read-interrupted")
        say("outcome", os.read(fd, 4096).decode().rstrip("\n"))
    wait_for(gofile)
    os.close(fd)
    say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
