#!/usr/bin/env python3
"""check_holds.py - never two holders: check the holds workload.py logged.

  check_holds.py DIR [--min-holds N]     check every DIR/*.log
  check_holds.py --self-test             the checker against made-up logs

Fails (exit 1, printing the two holds) when
  * two proven hold intervals overlap on conflicting nodes (equal, or one
    an ancestor of the other: node "a" is the lock a/.lock, "" the root),
    unless both are shared;
  * two holds of one node that do not overlap have tokens in the wrong
    order (the later grant must have the larger token), or a token repeats;
  * fewer than N holds were logged (a run that did nothing proves nothing).
Intervals are what the workload proved (grant returned .. release asked),
so a correct lockfs never trips it; the summary says how much was checked.
"""
import glob
import json
import os
import sys


def conflicting(a, b):
    if a == b or a == "" or b == "":
        return True
    return a.startswith(b + "/") or b.startswith(a + "/")


def check(holds, min_holds=0):
    """None when all is well, else a message."""
    if len(holds) < min_holds:
        return "only %d holds logged (at least %d wanted)" % (len(holds),
                                                               min_holds)
    seen = {}
    for h in holds:
        t = h.get("token")
        if t is None:
            continue
        if t in seen and seen[t] is not h:
            return "token %d granted twice:\n  %s\n  %s" % (t, seen[t], h)
        seen[t] = h
    ordered = sorted(holds, key=lambda h: h["t0"])
    active = []
    for h in ordered:
        active = [a for a in active if a["t1"] > h["t0"]]
        for a in active:
            if not conflicting(a["node"], h["node"]):
                continue
            if a["mode"] == "s" and h["mode"] == "s":
                continue
            return "two holders at once:\n  %s\n  %s" % (a, h)
        active.append(h)
    by_node = {}
    for h in ordered:
        by_node.setdefault(h["node"], []).append(h)
    for node, hs in by_node.items():
        last = None
        for h in hs:
            if h.get("token") is None:
                continue
            if last and last["t1"] <= h["t0"] and last["token"] >= h["token"]:
                return "token went backwards on %r:\n  %s\n  %s" % (
                    node, last, h)
            last = h
    return None


def load(directory):
    holds, counts = [], {}
    for path in sorted(glob.glob(os.path.join(directory, "*.log"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if "counts" in rec:
                    for k, v in rec["counts"].items():
                        counts[k] = counts.get(k, 0) + v
                else:
                    holds.append(rec)
    return holds, counts


def self_test():
    def h(node, mode, token, t0, t1):
        return {"node": node, "mode": mode, "token": token, "t0": t0,
                "t1": t1}
    cases = [
        ("disjoint", [h("a/x", "x", 1, 0, 10), h("a/x", "x", 2, 10, 20)],
         True),
        ("overlap", [h("a/x", "x", 1, 0, 10), h("a/x", "x", 2, 5, 20)],
         False),
        ("shared pair", [h("a/x", "s", 1, 0, 10), h("a/x", "s", 2, 5, 20)],
         True),
        ("shared and exclusive", [h("a/x", "s", 1, 0, 10),
                                  h("a/x", "x", 2, 5, 20)], False),
        ("ancestor", [h("a", "x", 1, 0, 10), h("a/b/z", "x", 2, 5, 20)],
         False),
        ("root", [h("", "x", 1, 0, 10), h("c/v", "x", 2, 5, 20)], False),
        ("siblings", [h("a/x", "x", 1, 0, 10), h("a/y", "x", 2, 5, 20)],
         True),
        ("prefix is not ancestor", [h("a/b", "x", 1, 0, 10),
                                    h("a/bc", "x", 2, 5, 20)], True),
        ("token backwards", [h("a/x", "x", 5, 0, 10),
                             h("a/x", "x", 3, 10, 20)], False),
        ("token twice", [h("a/x", "x", 5, 0, 10), h("c/v", "x", 5, 0, 10)],
         False),
        ("too few", [], False),
    ]
    bad = 0
    for name, holds, ok in cases:
        got = check(holds, 1 if name == "too few" else 0) is None
        if got != ok:
            print("self-test %s: expected %s" % (name, "pass" if ok else
                                                  "a failure"))
            bad += 1
    print("self-test: %d cases, %d wrong" % (len(cases), bad))
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    directory = sys.argv[1]
    min_holds = 0
    if "--min-holds" in sys.argv:
        min_holds = int(sys.argv[sys.argv.index("--min-holds") + 1])
    holds, counts = load(directory)
    problem = check(holds, min_holds)
    nodes = len({h["node"] for h in holds})
    kinds = {}
    for h in holds:
        kinds[h["how"]] = kinds.get(h["how"], 0) + 1
    print("holds=%d nodes=%d kinds=%s counts=%s" % (
        len(holds), nodes, json.dumps(kinds, sort_keys=True),
        json.dumps(counts, sort_keys=True)))
    if problem:
        print("VIOLATION: " + problem)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
