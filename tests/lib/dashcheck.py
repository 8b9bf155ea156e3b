#!/usr/bin/env python3
"""dashcheck.py - does a Grafana dashboard query only what the rules test?

  dashcheck.py RULES.yml DASHBOARD.json

Every target of every panel (rows and their panels included) must have an
expr that is exactly the name of a recording rule of RULES.yml, or exactly
the expr of one of its rules: then promtool test rules has tested every
query the dashboard makes.  A dashboard without any target fails too.
Prints "ok N queries" or each query that is not found, and exits 0 or 1.

RULES.yml is read line by line (the standard library has no YAML): a
"record:" line gives a name, an "expr:" line an expression, on that line
or, after "expr: |" or "expr: >", on the more indented lines below it.
"""
import json
import re
import sys

KEY = re.compile(r"^(\s*)(?:- )?(record|expr):\s*(.*?)\s*$")


def unquote(text):
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def rule_queries(path):
    """The recording rules' names and every rule's expr, as written."""
    lines = open(path, encoding="utf-8").read().splitlines()
    found = set()
    i = 0
    while i < len(lines):
        m = KEY.match(lines[i])
        i += 1
        if not m:
            continue
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if key == "expr" and value in ("|", ">", "|-", ">-"):
            block = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(part for part in block if part)
        found.add(" ".join(unquote(value).split()))
    return found


def targets(node):
    """Every panel target (a dict with a refId) anywhere in the dashboard."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "targets" and isinstance(value, list):
                yield from (t for t in value if isinstance(t, dict))
            else:
                yield from targets(value)
    elif isinstance(node, list):
        for value in node:
            yield from targets(value)


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    known = rule_queries(sys.argv[1])
    dashboard = json.load(open(sys.argv[2], encoding="utf-8"))
    queries = [" ".join(str(t.get("expr", "")).split()) for t in targets(dashboard)]
    if not queries:
        print("no panel targets in %s" % sys.argv[2])
        return 1
    missing = [q for q in queries if q not in known]
    for q in missing:
        print("not a rule of %s: %r" % (sys.argv[1], q))
    if missing:
        return 1
    print("ok %d queries" % len(queries))
    return 0


if __name__ == "__main__":
    sys.exit(main())
