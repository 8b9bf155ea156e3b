#!/usr/bin/env python3
"""check_history.py - check a lock history logged by history.py.

  check_history.py LOG [--margin-ms 50] [--min-grants N] [--per-lock-tokens]
  check_history.py --self-test

Builds, for every hold, the interval during which it was SURELY held, on
the one monotonic clock all workers share:

  start  the moment the acquiring call returned (the grant happened before);
  end    the latest of
         - the start of every call that proved the hold alive afterwards:
           the lock's token read back equal to ours, our holder block
           listed, a successful unlink of our lease (the call happened
           after it started, and a hold is one unbroken interval);
         - for a lease, its TTL: a lease renewed (or requested) at r with
           ttl L lives until r + L unless released, so it is surely held
           until min(r + L - margin, the first release attempt, and - for
           keepalive=session, which the daemon drops when the owner's
           session ends - the last sign of life of its worker).
The interval is never longer than the real hold, so an overlap is a real
double grant: nothing here is a guess in lockfs's favour or against it.

Fails (exit 1), printing each offending pair, the seed and their log lines:
  overlap      two surely-held intervals on conflicting nodes (equal, or one
               an ancestor of the other: 'a/b/.lock' is node 'a/b', '/.lock'
               is node '') overlap, unless both are shared (SPEC 1, 6);
  token-repeat one token handed out by two grants (SPEC 3);
  token-order  a grant surely later than another on the same lock (its
               request began after the other's grant returned, or the two
               conflict and the other's interval ended before it began) got
               a token not greater (SPEC 3); across different locks too,
               since the README promises one counter for the whole tree
               (--per-lock-tokens checks only within a lock);
  lost-early   a lease reported lost (ESTALE, or its token gone from an
               open descriptor) before its TTL could have run out;
  too-few      fewer than --min-grants grants (a vacuous run proves nothing).
Prints a summary line (grants, releases, locks, max concurrency, waits,
kills, expiries ...) and "ok".
"""
import argparse
import bisect
import json
import sys

WAITED_NS = 10_000_000   # a grant that took this long waited for someone


def conflicting(a, b):
    """SPEC 1: equal nodes, or one an ancestor of the other."""
    if a == b or a == "" or b == "":
        return True
    return a.startswith(b + "/") or b.startswith(a + "/")


class Hold:
    def __init__(self, g):
        self.g = g
        self.hid = g["h"]
        self.w = g["w"]
        self.node = g["node"]
        self.mode = g["mode"]
        self.kind = g["kind"]
        self.token = g.get("token")
        self.s = g["t"]
        self.t_req = g.get("t_req", g["t"])
        self.proofs = []
        self.renews = [(self.t_req, g.get("ttl_ms"), g.get("ka"))]
        self.releases = []      # (t, by)
        self.results = []       # (t, ok, err)
        self.evidence = []      # (t, what): signs the lease was gone
        self.expire = None
        self.killed = False
        self.e = self.s
        self.why = "grant"
        self.guarantee = None   # TTL end ignoring releases (for lost-early)

    def describe(self, t0):
        return ("%s w%s %s %s mode=%s token=%s via %s, held surely "
                "%.1f..%.1f ms (%s), asked at %.1f ms" % (
                    self.hid, self.w, self.g.get("how"), self.g["path"],
                    self.mode, self.token, self.g.get("mount"),
                    (self.s - t0) / 1e6, (self.e - t0) / 1e6, self.why,
                    (self.t_req - t0) / 1e6))


def build(events, margin_ns):
    holds, order = {}, []
    last_seen = {}
    for ev in events:
        w = ev.get("w")
        if w is not None and "t" in ev:
            last_seen[w] = max(last_seen.get(w, 0), ev["t"])
        kind = ev.get("ev")
        if kind == "grant":
            h = Hold(ev)
            holds[h.hid] = h
            order.append(h)
            continue
        h = holds.get(ev.get("h"))
        if h is None:
            continue
        if kind == "proof":
            h.proofs.append(ev["t"])
        elif kind == "renew":
            h.renews.append((ev["t"], ev.get("ttl_ms"), ev.get("ka")))
        elif kind == "expire-suspected":
            h.renews.append((ev["t"], ev["ttl_ms"], "off"))
            h.expire = ev["t"]
        elif kind == "release":
            h.releases.append((ev["t"], ev.get("by")))
        elif kind == "released":
            h.results.append((ev["t"], ev.get("ok"), ev.get("err")))
        elif kind == "verify-failed":
            # gone by the time the call returned (a path that fails may
            # be a mount that is gone, so only lockfs's own answers count)
            if ev.get("why") == "other-token" or (
                    ev.get("why") == "absent" and ev.get("via") == "fd"):
                h.evidence.append((ev.get("t_done", ev["t"]),
                                   "verify: " + ev["why"]))
        elif kind == "renew-failed":
            if ev.get("err") == "ESTALE":
                h.evidence.append((ev.get("t_done", ev["t"]),
                                   "renew: ESTALE"))
    for ev in events:
        if ev.get("ev") == "kill":
            for hid in ev.get("holds", []):
                if hid in holds:
                    holds[hid].killed = True
    for h in order:
        finish_hold(h, last_seen.get(h.w, h.s), margin_ns)
    return order


def finish_hold(h, alive_until, margin_ns):
    """Work out h.e, the end of the surely-held interval."""
    h.e, h.why = h.s, "grant only"
    for t in h.proofs:
        if t > h.e:
            h.e, h.why = t, "proved alive"
    for (t, by), res in zip(h.releases, h.results):
        if h.kind == "lease" and by == "unlink" and res[1] and t > h.e:
            h.e, h.why = t, "unlinked by its owner"
    if h.kind != "lease":
        return
    # the latest renewal decides the expiry
    ttl, ka, last = None, None, None
    for t, r_ttl, r_ka in sorted(h.renews, key=lambda r: r[0]):
        ttl = r_ttl if r_ttl is not None else ttl
        ka = r_ka if r_ka is not None else ka
        last = t
    if ttl is None:
        return
    end = last + ttl * 1_000_000 - margin_ns
    if ka == "session":
        end = min(end, alive_until)
    h.guarantee = end
    if h.releases:
        end = min(end, h.releases[0][0])
    if end > h.e:
        h.e = end
        h.why = "ttl %d ms from %s" % (ttl, "its request" if last == h.t_req
                                        else "its last renewal")
        if h.releases and end == h.releases[0][0]:
            h.why = "ttl, until its release"


def check(events, margin_ms=50, min_grants=0, per_lock_tokens=False):
    """(list of (kind, message, holds), summary dict)."""
    holds = build(events, margin_ms * 1_000_000)
    bad = []
    t0 = min((h.t_req for h in holds), default=0)
    # --- overlaps of surely-held intervals (sweep by start) -----------
    active, maxconc = [], 0
    for h in sorted(holds, key=lambda x: x.s):
        active = [a for a in active if a.e > h.s]
        if h.e > h.s:
            for a in active:
                if not conflicting(a.node, h.node):
                    continue
                if a.mode == "s" and h.mode == "s":
                    continue
                bad.append(("overlap", "two holders at once on conflicting "
                            "nodes %r and %r" % (a.node, h.node), [a, h]))
            active.append(h)
            maxconc = max(maxconc, len(active))
    # --- tokens ---------------------------------------------------------
    withtok = [h for h in holds if h.token is not None]
    seen = {}
    for h in withtok:
        if h.token in seen:
            bad.append(("token-repeat", "token %d granted twice" % h.token,
                        [seen[h.token], h]))
        else:
            seen[h.token] = h
    # a grant whose request began after another's grant returned is later
    by_grant = sorted(withtok, key=lambda x: x.s)
    if per_lock_tokens:
        groups = {}
        for h in by_grant:
            groups.setdefault(h.node, []).append(h)
        groups = list(groups.values())
    else:
        groups = [by_grant]
    for grp in groups:
        starts = [h.s for h in grp]
        best, prefix = None, []
        for h in grp:
            if best is None or h.token > best.token:
                best = h
            prefix.append(best)
        for b in grp:
            i = bisect.bisect_left(starts, b.t_req)
            if i == 0:
                continue
            a = prefix[i - 1]
            if a.token >= b.token and a is not b:
                where = "on %r" % b.node if a.node == b.node else \
                    "across locks %r and %r (one counter)" % (a.node, b.node)
                bad.append(("token-order", "a later grant got a token not "
                            "greater %s" % where, [a, b]))
    # same lock, conflicting: the one that ended surely before the other
    # began was granted first
    per_node = {}
    for h in withtok:
        if h.e > h.s:
            per_node.setdefault(h.node, []).append(h)
    for node, hs in per_node.items():
        ends = sorted(hs, key=lambda x: x.e)
        i, best_all, best_x = 0, None, None
        for b in sorted(hs, key=lambda x: x.s):
            while i < len(ends) and ends[i].e < b.s:
                a = ends[i]
                if best_all is None or a.token > best_all.token:
                    best_all = a
                if a.mode == "x" and (best_x is None or
                                      a.token > best_x.token):
                    best_x = a
                i += 1
            a = best_all if b.mode == "x" else best_x
            if a is not None and a.token >= b.token:
                bad.append(("token-order", "token did not increase on %r"
                            % node, [a, b]))
    # --- leases lost before their ttl ---------------------------------
    for h in holds:
        if h.kind != "lease" or h.guarantee is None:
            continue
        ev = list(h.evidence)
        for (t, by), res in zip(h.releases, h.results):
            if by == "unlink" and not res[1] and res[2] == "ESTALE":
                ev.append((res[0], "unlink: ESTALE"))   # when it returned
        for t, what in ev:
            if h.s < t < h.guarantee:
                bad.append(("lost-early", "lease reported lost (%s) %.1f ms"
                            " before its ttl could have run out" % (
                                what, (h.guarantee - t) / 1e6), [h]))
                break
    if len(holds) < min_grants:
        bad.append(("too-few", "only %d grants (at least %d wanted)" % (
            len(holds), min_grants), []))
    # --- summary ----------------------------------------------------------
    count = {}
    for ev in events:
        count[ev.get("ev")] = count.get(ev.get("ev"), 0) + 1
    kills_holding = sum(1 for ev in events if ev.get("ev") == "kill" and
                        not ev.get("waiting"))
    failed = {}
    for ev in events:
        if ev.get("ev") in ("error", "timeout"):
            k = "%s:%s" % (ev.get("how"), ev.get("err"))
            failed[k] = failed.get(k, 0) + 1
    how = {}
    for h in holds:
        how[h.g.get("how")] = how.get(h.g.get("how"), 0) + 1
    summary = {
        "grants": len(holds),
        "releases": sum(1 for ev in events if ev.get("ev") == "released"
                        and ev.get("ok")),
        "locks": len({h.node for h in holds}),
        "max_concurrency": maxconc,
        "waited": sum(1 for h in holds if h.s - h.t_req > WAITED_NS),
        "busy": count.get("busy", 0),
        "timeouts": count.get("timeout", 0),
        "errors": count.get("error", 0),
        "kills_holding": kills_holding,
        "kills_waiting": count.get("kill", 0) - kills_holding,
        "expired": count.get("expire-suspected", 0),
        "late_expiry": count.get("late-expiry", 0),
        "shared": sum(1 for h in holds if h.mode == "s"),
        "tokens_known": len(withtok),
        "abandoned": count.get("abandon", 0),
        "crashed": count.get("crash", 0),
        "proved": sum(1 for h in holds if h.e > h.s),
        "how": how,
        "failed": failed,
        "t0": t0,
    }
    return bad, summary


def load(path):
    events, broken = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                events.append(json.loads(line))
            except ValueError:
                broken += 1
    return events, broken


def report(events, bad, summary, seed, limit=10):
    kinds = {}
    for kind, _, _ in bad:
        kinds[kind] = kinds.get(kind, 0) + 1
    by_hid = {}
    for ev in events:
        if "h" in ev:
            by_hid.setdefault(ev["h"], []).append(ev)
    for kind, msg, hs in bad[:limit]:
        print("VIOLATION %s (seed %s): %s" % (kind, seed, msg))
        for h in hs:
            print("  " + h.describe(summary["t0"]))
        for h in hs:
            for ev in by_hid.get(h.hid, []):
                print("    " + json.dumps(ev, separators=(",", ":")))
    if len(bad) > limit:
        print("... %d more: %s" % (len(bad) - limit, json.dumps(kinds)))


def summary_line(s):
    keys = ["grants", "releases", "locks", "max_concurrency", "waited",
            "busy", "timeouts", "errors", "kills_holding", "kills_waiting",
            "expired", "late_expiry", "shared", "tokens_known", "proved",
            "abandoned", "crashed"]
    return " ".join("%s=%s" % (k, s[k]) for k in keys) + " how=" + \
        json.dumps(s["how"], sort_keys=True, separators=(",", ":")) + \
        " failed=" + json.dumps(s["failed"], sort_keys=True,
                                separators=(",", ":"))


# ---- self-test ------------------------------------------------------------

MS = 1_000_000


def synth(holds):
    """Events for made-up holds: (node, mode, token, t_req, grant, end,
    extra) with times in ms; extra keys: kind (lease|handle), ka, ttl,
    kill (ms), expire (ms), stale (release fails ESTALE), noproof,
    w (worker), release (False: never released)."""
    events = []
    for i, (node, mode, token, t_req, t_grant, t_end, x) in enumerate(holds):
        kind = x.get("kind", "handle")
        hid = "%d.1" % i
        w = x.get("w", i)
        path = (node + "/.lock" if node else ".lock") if x.get("dir") \
            else node
        events.append({"ev": "grant", "h": hid, "w": w, "t": t_grant * MS,
                       "t_req": t_req * MS, "path": path, "node": node,
                       "mode": mode, "token": token, "kind": kind,
                       "how": "synthetic", "mount": "n1",
                       "ttl_ms": x.get("ttl", 2000) if kind == "lease"
                       else None,
                       "ka": x.get("ka", "off") if kind == "lease" else None})
        if "expire" in x:
            events.append({"ev": "expire-suspected", "h": hid, "w": w,
                           "t": x["expire"] * MS, "ttl_ms": 300})
            continue
        if "kill" in x:
            events.append({"ev": "proof", "h": hid, "w": w,
                           "t": x["kill"] * MS})
            events.append({"ev": "kill", "w": w, "t": x["kill"] * MS,
                           "holds": [hid], "waiting": False})
            continue
        if x.get("release") is False:
            continue
        if not x.get("noproof"):
            events.append({"ev": "proof", "h": hid, "w": w,
                           "t": t_end * MS})
        events.append({"ev": "release", "h": hid, "w": w, "t": t_end * MS,
                       "by": "unlink" if kind == "lease" else "unlock"})
        stale = x.get("stale")
        events.append({"ev": "released", "h": hid, "w": w,
                       "t": x.get("done", t_end + 0.001) * MS,
                       "ok": not stale,
                       "err": "ESTALE" if stale else None})
    events.sort(key=lambda e: e["t"])
    return events


def self_test():
    L = {"kind": "lease"}
    cases = [
        ("disjoint", [("a/x", "x", 1, 0, 0, 10, {}),
                      ("a/x", "x", 2, 5, 11, 20, {})], None),
        ("overlap", [("a/x", "x", 1, 0, 0, 10, {}),
                     ("a/x", "x", 2, 5, 6, 20, {})], "overlap"),
        ("shared pair", [("a/x", "s", 1, 0, 0, 10, {}),
                         ("a/x", "s", 2, 5, 6, 20, {})], None),
        ("shared ancestor and shared descendant",
         [("a", "s", 1, 0, 0, 10, {"dir": 1}),
          ("a/b/y", "s", 2, 1, 2, 20, {})], None),
        ("shared and exclusive", [("a/x", "s", 1, 0, 0, 10, {}),
                                  ("a/x", "x", 2, 5, 6, 20, {})], "overlap"),
        ("ancestor", [("a", "x", 1, 0, 0, 10, {"dir": 1}),
                      ("a/b/y", "x", 2, 5, 6, 20, {})], "overlap"),
        ("descendant held, ancestor granted",
         [("a/b/y", "x", 1, 0, 0, 10, {}),
          ("a/b", "s", 2, 5, 6, 20, {"dir": 1})], "overlap"),
        ("root", [("", "x", 1, 0, 0, 10, {"dir": 1}),
                  ("c/z", "x", 2, 5, 6, 20, {})], "overlap"),
        ("siblings", [("a/x", "x", 1, 0, 0, 10, {}),
                      ("a/b/y", "x", 2, 5, 6, 20, {})], None),
        ("prefix is not an ancestor", [("a/b", "x", 1, 0, 0, 10, {}),
                                       ("a/bc", "x", 2, 5, 6, 20, {})], None),
        ("waited, granted after the release",
         [("a/x", "x", 1, 0, 0, 10, {}),
          ("a/x", "x", 2, 2, 12, 20, {})], None),
        ("token not increasing", [("a/x", "x", 5, 0, 0, 10, {}),
                                  ("a/x", "x", 3, 12, 13, 20, {})],
         "token-order"),
        ("token not increasing after a wait",
         [("a/x", "x", 5, 0, 0, 10, {}),
          ("a/x", "x", 3, 2, 11, 20, {})], "token-order"),
        ("token repeated", [("a/x", "x", 5, 0, 0, 10, {}),
                            ("c/z", "x", 5, 0, 1, 10, {})], "token-repeat"),
        ("tokens across locks out of order",
         [("a/x", "x", 9, 0, 1, 10, {}),
          ("c/z", "x", 4, 3, 4, 10, {})], "token-order"),
        ("concurrent requests, either token order",
         [("a/x", "x", 9, 0, 3, 10, {}),
          ("c/z", "x", 4, 1, 2, 10, {})], None),
        ("overlapping shared grants, either token order",
         [("a/x", "s", 9, 0, 3, 10, {}),
          ("a/x", "s", 4, 1, 4, 10, {})], None),
        ("killed lease, keepalive=off: lives its ttl",
         [("a/x", "x", 1, 0, 0, 0, dict(L, kill=10, ttl=1000)),
          ("a/x", "x", 2, 400, 500, 600, {})], "overlap"),
        ("killed lease, keepalive=off: next one after its ttl",
         [("a/x", "x", 1, 0, 0, 0, dict(L, kill=10, ttl=1000)),
          ("a/x", "x", 2, 400, 1000, 1100, {})], None),
        ("killed lease, keepalive=session: goes with its owner",
         [("a/x", "x", 1, 0, 0, 0, dict(L, kill=10, ka="session")),
          ("a/x", "x", 2, 400, 500, 600, {})], None),
        ("killed handle lock: released at once",
         [("a/x", "x", 1, 0, 0, 0, {"kill": 10}),
          ("a/x", "x", 2, 5, 11, 20, {})], None),
        ("left to expire: granted to another too early",
         [("a/x", "x", 1, 0, 0, 0, dict(L, expire=100)),
          ("a/x", "x", 2, 150, 300, 400, {})], "overlap"),
        ("left to expire: granted to another after the ttl",
         [("a/x", "x", 1, 0, 0, 0, dict(L, expire=100)),
          ("a/x", "x", 2, 150, 360, 400, {})], None),
        ("a release logged after the other's grant",
         [("a/x", "x", 1, 0, 0, 100, L),
          ("a/x", "x", 2, 50, 90, 200, {})], "overlap"),
        ("unproved handle lock (a daemon died): no claim after its grant",
         [("a/x", "x", 1, 0, 0, 100, {"noproof": 1}),
          ("a/x", "x", 2, 5, 50, 200, {})], None),
        ("lease lost (ESTALE) before its ttl",
         [("a/x", "x", 1, 0, 0, 100, dict(L, stale=1, noproof=1))],
         "lost-early"),
        ("an unlink that started in time but returned ESTALE after the ttl",
         [("a/x", "x", 1, 0, 0, 100, dict(L, stale=1, done=2100))], None),
        ("lease lost (ESTALE) after its ttl",
         [("a/x", "x", 1, 0, 0, 2100, dict(L, stale=1, noproof=1))], None),
    ]
    wrong = 0
    for name, holds, want in cases:
        bad, _ = check(synth(holds))
        kinds = sorted({k for k, _, _ in bad})
        ok = kinds == ([want] if want else [])
        if not ok:
            wrong += 1
            print("self-test %r: expected %s, got %s" % (
                name, want or "no violation", kinds or "none"))
            for _, msg, hs in bad:
                print("   ", msg, [h.describe(0) for h in hs])
    bad, _ = check([], min_grants=1)
    if [k for k, _, _ in bad] != ["too-few"]:
        wrong += 1
        print("self-test 'too few': expected too-few")
    print("self-test: %d cases, %d wrong" % (len(cases) + 1, wrong))
    return 1 if wrong else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log", nargs="?")
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("--margin-ms", type=float, default=50)
    ap.add_argument("--min-grants", type=int, default=0)
    ap.add_argument("--per-lock-tokens", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.log:
        ap.error("LOG or --self-test")
    events, broken = load(a.log)
    seed = next((ev.get("seed") for ev in events if ev.get("ev") == "meta"
                 and "seed" in ev), "?")
    bad, summary = check(events, a.margin_ms, a.min_grants,
                         a.per_lock_tokens)
    report(events, bad, summary, seed)
    line = "seed=%s %s" % (seed, summary_line(summary))
    if broken:
        line += " unreadable_lines=%d" % broken
    print(line)
    if bad:
        print("FAILED: %d violation(s)" % len(bad))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
