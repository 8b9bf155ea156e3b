#!/usr/bin/python3
"""browser.py - drive a node's page in Debian's headless Chromium.

    browser.py URL SHOTDIR STEP...

Starts chromedriver and one headless Chromium (a fresh profile, nothing
fetched from outside), opens URL, then runs the steps in order:

    run:CMD        run CMD with /bin/sh; it must exit 0
    see:CSS        wait (up to 10 s) until an element matches CSS
    gone:CSS       wait (up to 10 s) until no element matches CSS
    text:CSS=TEXT  wait (up to 10 s) until the first match's text holds TEXT
    ticks:CSS      the first match's text changes within 3 s (a countdown)
    shot:NAME      save a screenshot as SHOTDIR/NAME.png
    width:PX       resize the window to PX wide (a phone: 390)
    noerrors       the page counted no script errors (body data-jserrors)

Each step prints "ok STEP" or "FAIL STEP: why"; the exit status is 1 if
any step failed.  Only the standard library: WebDriver is JSON over HTTP.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

WAIT_S = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Driver:
    def __init__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="lockfs-chromium.")
        self.proc = subprocess.Popen(
            ["chromedriver", "--port=%d" % self.port],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = "http://127.0.0.1:%d" % self.port
        deadline = time.time() + 20
        while True:
            try:
                self.call("GET", "/status")
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("chromedriver did not start")
                time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                "--user-data-dir=" + self.profile]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium",
                                   "args": args}}}}
        self.session = self.call("POST", "/session", caps)["value"]["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def cmd(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.session, path),
                         body)["value"]

    def script(self, js, *args):
        return self.cmd("POST", "/execute/sync",
                        {"script": js, "args": list(args)})

    def close(self):
        try:
            self.call("DELETE", "/session/" + self.session)
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def count(d, css):
    return d.script("return document.querySelectorAll(arguments[0]).length",
                    css)


def text(d, css):
    return d.script("var e = document.querySelector(arguments[0]);"
                    "return e ? e.textContent : null", css)


def until(cond, seconds=WAIT_S):
    deadline = time.time() + seconds
    while True:
        if cond():
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.1)


def step(d, shotdir, s):
    kind, _, arg = s.partition(":")
    if kind == "run":
        rc = subprocess.run(["/bin/sh", "-c", arg]).returncode
        return rc == 0, "exit status %d" % rc
    if kind == "see":
        return until(lambda: count(d, arg) > 0), "never appeared"
    if kind == "gone":
        return until(lambda: count(d, arg) == 0), "never went away"
    if kind == "text":
        css, _, want = arg.partition("=")
        ok = until(lambda: want in (text(d, css) or ""))
        return ok, "text is %r" % text(d, css)
    if kind == "ticks":
        first = text(d, arg)
        ok = first is not None and until(lambda: text(d, arg) != first, 3)
        return ok, "text stayed %r" % first
    if kind == "shot":
        png = base64.b64decode(d.cmd("GET", "/screenshot"))
        path = os.path.join(shotdir, arg + ".png")
        with open(path, "wb") as f:
            f.write(png)
        print("screenshot: " + path)
        return png.startswith(b"\x89PNG"), "not a PNG"
    if kind == "width":
        d.cmd("POST", "/window/rect", {"width": int(arg), "height": 900})
        return True, ""
    if kind == "noerrors":
        n = d.script("return document.body.dataset.jserrors || '0'")
        return n == "0", "%s script errors" % n
    return False, "unknown step"


def main():
    url, shotdir, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(shotdir, exist_ok=True)
    d = Driver()
    failed = 0
    try:
        d.cmd("POST", "/url", {"url": url})
        for s in steps:
            try:
                ok, why = step(d, shotdir, s)
            except Exception as e:  # a WebDriver error fails the step
                ok, why = False, repr(e)
            print(("ok   %s" % s) if ok else ("FAIL %s: %s" % (s, why)))
            sys.stdout.flush()
            failed += not ok
    finally:
        d.close()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
