#!/usr/bin/env python3
"""CPU time per request of two builds of every server, alternated within each
repetition (the order flipped every other one), at fixed offered loads and at
saturation, on both shapes. On a shared 2-core VM this resolves only large
differences: its spreads are the figure to read (instructions.py resolves small ones).

    cpu.py OLD_BIN_DIR NEW_BIN_DIR LOADGEN OUT.json [--reps 3] [--seconds 2]
           [--sinks null,kafka] [--servers a,b]
    cpu.py --summary OUT.json      # the Markdown table: new/old median [min-max]

Server on core 0 with one worker (null sink, or the embedded mock cluster), LOADGEN on
core 1. CPU from /proc/PID/task/*/schedstat, requests from /metrics.
"""
import argparse, json, os, re, signal, statistics, subprocess, sys, time
from collections import defaultdict
from common import SERVERS, free_port, http_get, requests_total, selected

# (shape, connections, body bytes, offered req/s or None for saturation)
LOADS = [("64c-256B", 64, 256, 10000), ("64c-256B", 64, 256, 25000), ("64c-256B", 64, 256, None),
         ("8c-16KiB", 8, 16384, 2000), ("8c-16KiB", 8, 16384, 5000), ("8c-16KiB", 8, 16384, None)]


def cpu_ns(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def start(bindir, binary, extra, sink):
    port = free_port()
    args = (["taskset", "-c", "0", os.path.join(bindir, binary), "--listen", f"127.0.0.1:{port}",
             "--workers", "1"] + extra
            + (["--sink", "null"] if sink == "null" else ["--embedded-broker"]))
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "RUST_LOG": "warn"})
    for _ in range(300):
        try:
            if " 200 " in http_get(port, "/readyz", timeout=5).split("\r\n")[0]:
                return server, port
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"{binary} exited")
        time.sleep(0.05)
    raise RuntimeError(f"{binary} never ready")


def run_load(loadgen, port, conns, body, rate, seconds):
    args = [loadgen, f"127.0.0.1:{port}", "--connections", str(conns), "--body-bytes", str(body),
            "--seconds", str(seconds), "--core", "1"] + (["--rate", str(rate)] if rate else [])
    out = subprocess.run(["taskset", "-c", "1"] + args, capture_output=True, text=True,
                         timeout=120).stdout
    m = re.search(r"([\d.]+) req/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms.*?(\d+) non-2xx, (\d+) errors", out)
    return {"rps": float(m.group(1)), "p50": float(m.group(2)), "p99": float(m.group(3)),
            "non2xx": int(m.group(4)), "errors": int(m.group(5))}


def measure(a):
    samples = []
    for rep in range(a.reps):
        for sink in a.sinks.split(","):
            for name, binary, extra in selected(SERVERS, a.servers):
                builds = [("old", a.old), ("new", a.new)]
                if rep % 2:
                    builds.reverse()
                for build, bindir in builds:
                    server, port = start(bindir, binary, extra, sink)
                    try:
                        for shape, conns, body, rate in LOADS:
                            c0, r0 = cpu_ns(server.pid), requests_total(port)
                            res = run_load(a.loadgen, port, conns, body, rate, a.seconds)
                            c1, r1 = cpu_ns(server.pid), requests_total(port)
                            requests = r1 - r0 - 1
                            res.update(rep=rep, sink=sink, server=name, version=build, shape=shape,
                                       load="sat" if rate is None else rate, requests=requests,
                                       cpu_us_per_req=(c1 - c0) / 1000 / max(requests, 1))
                            samples.append(res)
                            print(json.dumps(res), flush=True)
                    finally:
                        server.send_signal(signal.SIGTERM)
                        try:
                            server.wait(15)
                        except subprocess.TimeoutExpired:
                            server.kill()
                            server.wait()
                    json.dump(samples, open(a.out, "w"))


def summary(path):
    cells = defaultdict(dict)
    for x in json.load(open(path)):
        cells[(x["sink"], x["server"], x["shape"], str(x["load"]))].setdefault(x["rep"], {})[x["version"]] = x
    order = [s[0] for s in SERVERS]
    print("| sink | server | shape | load | old µs/req | new µs/req | new/old median [min-max] | old / new req/s |")
    print("|---|---|---|---|---|---|---|---|")
    key = lambda k: (k[0], order.index(k[1]), k[2], 10**9 if k[3] == "sat" else float(k[3]))
    for k in sorted(cells, key=key):
        reps = [r for r in cells[k].values() if "old" in r and "new" in r]
        if not reps:
            continue
        ratios = [r["new"]["cpu_us_per_req"] / r["old"]["cpu_us_per_req"] for r in reps]
        med = lambda field, build: statistics.median(r[build][field] for r in reps)
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {med('cpu_us_per_req', 'old'):.2f} | "
              f"{med('cpu_us_per_req', 'new'):.2f} | {statistics.median(ratios):.3f} "
              f"[{min(ratios):.3f}-{max(ratios):.3f}] | {med('rps', 'old'):.0f} / {med('rps', 'new'):.0f} |")


if len(sys.argv) == 3 and sys.argv[1] == "--summary":
    summary(sys.argv[2])
else:
    ap = argparse.ArgumentParser()
    ap.add_argument("old"); ap.add_argument("new"); ap.add_argument("loadgen"); ap.add_argument("out")
    ap.add_argument("--reps", type=int, default=3); ap.add_argument("--seconds", type=float, default=2)
    ap.add_argument("--sinks", default="null,kafka"); ap.add_argument("--servers", default="")
    measure(ap.parse_args())
