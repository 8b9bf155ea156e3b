#!/usr/bin/env python3
"""fsop.py - one file operation, as a program would make it, for the shell
suites: prints OK (plus a result) or the errno name, exits 0 either way.

  fsop.py open PATH MODE [HOLD]   MODE: r, w, wn (O_NONBLOCK), wx (O_EXCL),
                                  wc (O_CREAT), wcn, rc (O_RDONLY|O_CREAT);
                                  HOLD seconds to keep it open
  fsop.py write PATH DATA         open for write, write DATA, close
  fsop.py writefd PATH DATA...    open once, write each DATA, report each
  fsop.py unlink|rmdir|truncate|utime|read|getxattr PATH
  fsop.py mkdir|chmod PATH MODE(octal)      fsop.py chown PATH UID GID
  fsop.py rename|link|symlink SRC DST       fsop.py mknod PATH
"""
import errno
import os
import sys


def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def main(argv):
    op, path = argv[1], argv[2]
    try:
        if op == "open":
            flags = {"r": os.O_RDONLY, "w": os.O_WRONLY,
                     "wn": os.O_WRONLY | os.O_NONBLOCK,
                     "wx": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                     "wc": os.O_WRONLY | os.O_CREAT,
                     "wcn": os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK,
                     "rc": os.O_RDONLY | os.O_CREAT}[argv[3]]
            fd = os.open(path, flags, 0o644)
            if len(argv) > 4:
                import time
                time.sleep(float(argv[4]))
            os.close(fd)
        elif op == "write":
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.write(fd, argv[3].encode("utf-8", "surrogateescape"))
            finally:
                os.close(fd)
        elif op == "writefd":
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            out = []
            for data in argv[3:]:
                try:
                    os.write(fd, data.encode())
                    out.append("OK")
                except OSError as e:
                    out.append(name(e))
            os.close(fd)
            print(" ".join(out))
            return
        elif op == "unlink":
            os.unlink(path)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "mkdir":
            os.mkdir(path, int(argv[3], 8) if len(argv) > 3 else 0o755)
        elif op == "chmod":
            os.chmod(path, int(argv[3], 8))
        elif op == "chown":
            os.chown(path, int(argv[3]), int(argv[4]))
        elif op == "truncate":
            os.truncate(path, 0)
        elif op == "utime":
            os.utime(path)
        elif op == "read":
            with open(path, "rb") as f:
                sys.stdout.write("OK " + repr(f.read()) + "\n")
            return
        elif op == "getxattr":
            print("OK " + os.getxattr(path, "user.lockfs.token").decode())
            return
        elif op == "rename":
            os.rename(path, argv[3])
        elif op == "link":
            os.link(path, argv[3])
        elif op == "symlink":
            os.symlink(path, argv[3])
        elif op == "mknod":
            os.mknod(path, 0o644)
        else:
            print("usage")
            return
        print("OK")
    except OSError as e:
        print(name(e))


if __name__ == "__main__":
    main(sys.argv)
