#!/usr/bin/env python3
"""promcheck.py - is a file valid Prometheus text exposition format (0.0.4)?

  promcheck.py FILE [METRIC=VALUE ...]

Checks what a scraper relies on: every line is a comment, blank, or a
sample `name{label="value",...} number`; names and label names are legal;
label values are properly quoted and escaped; each metric family has one
TYPE line, given before its samples, and its samples are contiguous;
counters are not negative; every histogram has increasing `le` bounds,
cumulative (non-decreasing) buckets, a `+Inf` bucket equal to its _count,
and a _sum.  Each METRIC=VALUE argument (a full sample name with labels, as
printed) must be present with that value.  Prints "ok" or the first
problem, and exits 0 or 1.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,%s)*\})? (\S+)$" % (NAME, LABEL, LABEL))
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def number(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    return float(text)


def family_of(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[: -len(suffix)]
        if name.endswith(suffix) and types.get(base) == "histogram":
            return base
    return name


def check(lines):
    types, seen_done, current = {}, set(), None
    samples, hist = {}, {}
    for no, line in enumerate(lines, 1):
        if line == "" or (line.startswith("#") and not re.match(r"# (TYPE|HELP) ", line)):
            continue
        m = re.match(r"^# (TYPE|HELP) (%s) (.*)$" % NAME, line)
        if m:
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in TYPES:
                    return "line %d: unknown type %r" % (no, rest)
                if name in types:
                    return "line %d: second TYPE for %s" % (no, name)
                types[name] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            return "line %d: not a sample: %r" % (no, line)
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = number(value)
        except ValueError:
            return "line %d: bad value %r" % (no, value)
        fam = family_of(name, types)
        if fam not in types:
            return "line %d: %s has no TYPE line before it" % (no, fam)
        if fam != current:
            if fam in seen_done:
                return "line %d: samples of %s are not together" % (no, fam)
            if current:
                seen_done.add(current)
            current = fam
        if types[fam] == "counter" and v < 0:
            return "line %d: negative counter" % no
        samples[name + labels] = v
        if types[fam] == "histogram":
            rest = re.sub(r',?le="[^"]*"', "", labels).replace("{,", "{")
            h = hist.setdefault((fam, rest), {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                le = re.search(r'le="([^"]*)"', labels)
                if not le:
                    return "line %d: bucket without le" % no
                h["buckets"].append((number(le.group(1)), v))
            elif name.endswith("_count"):
                h["count"] = v
            elif name.endswith("_sum"):
                h["sum"] = v
    for (fam, _), h in hist.items():
        bounds = [b for b, _ in h["buckets"]]
        counts = [c for _, c in h["buckets"]]
        if not bounds or bounds[-1] != math.inf:
            return "%s: no +Inf bucket" % fam
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            return "%s: le bounds not increasing" % fam
        if counts != sorted(counts):
            return "%s: buckets not cumulative" % fam
        if h["count"] is None or h["sum"] is None:
            return "%s: _count or _sum missing" % fam
        if counts[-1] != h["count"]:
            return "%s: +Inf bucket %g != _count %g" % (fam, counts[-1], h["count"])
    return samples


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    if not text.endswith("\n"):
        print("the text does not end with a newline")
        return 1
    result = check(text.split("\n")[:-1])
    if isinstance(result, str):
        print(result)
        return 1
    for want in sys.argv[2:]:
        key, _, value = want.rpartition("=")
        if key not in result or result[key] != float(value):
            print("%s: expected %s, got %s" % (key, value, result.get(key)))
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
