#!/usr/bin/env python3
"""Self cost per function, per request, of one callgrind dump, or of two side by side
(largest differences first). Inlining blurs where code is attributed, so read the
per-function rows as hints and the totals as exact.

    selfcost.py DUMP REQUESTS [DUMP2 REQUESTS2]
"""
import collections, re, sys


def self_cost(path):
    names, cost, current, skip = {}, collections.Counter(), None, False
    for line in open(path):
        if line.startswith("fn="):
            m = re.match(r"fn=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
            if m.group(2):
                names[m.group(1)] = m.group(2)
            current = names.get(m.group(1), m.group(1))
        elif line.startswith(("cfn=", "cfi=", "cfl=", "cob=")):
            m = re.match(r"cfn=\((\d+)\) (.*)", line.rstrip("\n"))
            if m:
                names[m.group(1)] = m.group(2)
        elif line.startswith("calls="):
            skip = True  # the next cost line is the call's inclusive cost
        elif line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if skip:
                skip = False
            elif len(fields) >= 2 and current is not None:
                cost[current] += int(fields[1])
    return cost


a, na = self_cost(sys.argv[1]), float(sys.argv[2])
if len(sys.argv) > 3:
    b, nb = self_cost(sys.argv[3]), float(sys.argv[4])
    print(f"total A {sum(a.values()) / na:.0f}  B {sum(b.values()) / nb:.0f}")
    for k in sorted(set(a) | set(b), key=lambda k: -abs(b[k] / nb - a[k] / na))[:60]:
        print(f"{a[k] / na:8.0f} {b[k] / nb:8.0f} {b[k] / nb - a[k] / na:+8.0f}  {k[:140]}")
else:
    print(f"total {sum(a.values()) / na:.0f}")
    for k, v in a.most_common(60):
        print(f"{v / na:8.0f}  {k[:140]}")
