#!/usr/bin/env python3
"""Instructions per request of two builds of every server, under callgrind:
deterministic, unlike CPU time on a shared machine. User space only (syscalls.py
counts what goes to the kernel).

    instructions.py OLD_BIN_DIR NEW_BIN_DIR LOADGEN OUT.tsv [--servers a,b] [--shapes s]
                    [--rate R] [--extra "--uring-disable owned-send"]

Each server runs with one worker and the null sink, driven by LOADGEN
(target/release/examples/loadgen): closed-loop (saturation, many requests per wake-up),
or open-loop at `--rate` requests a second (light load: under valgrind the servers
saturate near 15k req/s, so 2,000 is about one request per wake-up). Counters are
zeroed after a 1 s warm-up and dumped after a 4 s run, and the requests of that window
are counted from /metrics. `--extra` adds server arguments to the new build only (an
ablation against the old build, or with OLD_BIN_DIR = NEW_BIN_DIR, against itself).
Prints and appends: server, shape, build, requests, instructions, instructions/request.
"""
import glob, os, signal, subprocess, tempfile, time
from common import arguments, free_port, requests_total, runs, wait_healthy


def options(parser):
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--extra", default="")


a = arguments(options)
dumps = tempfile.mkdtemp(prefix="callgrind-")
with open(a.out, "a") as out:
    for name, binary, extra, shape, conns, body, build, bindir in runs(a):
        port = free_port()
        dump = os.path.join(dumps, f"{name}-{shape}-{build}.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}",
             os.path.join(bindir, binary), "--listen", f"127.0.0.1:{port}",
             "--workers", "1", "--sink", "null"] + extra
            + (a.extra.split() if build == "new" else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(port)
        load = [a.loadgen, f"127.0.0.1:{port}", "--connections", str(conns),
                "--body-bytes", str(body)] + (["--rate", str(a.rate)] if a.rate else []) + ["--seconds"]
        subprocess.run(load + ["1"], capture_output=True)
        subprocess.run(["callgrind_control", "-z", str(server.pid)], capture_output=True)
        before = requests_total(port)
        subprocess.run(load + ["4"], capture_output=True)
        after = requests_total(port)
        subprocess.run(["callgrind_control", "-d", str(server.pid)], capture_output=True)
        time.sleep(1)
        server.send_signal(signal.SIGKILL)
        server.wait()
        newest = max(glob.glob(dump + "*"), key=os.path.getmtime)
        total = next(int(line.split()[1]) for line in open(newest)
                     if line.startswith(("summary:", "totals:")))
        requests = after - before - 1  # the /metrics request itself
        row = f"{name}\t{shape}{'@' + str(a.rate) if a.rate else ''}\t{build}\t{int(requests)}\t{total}\t{total / max(requests, 1):.0f}"
        print(row, flush=True)
        out.write(row + "\n")
print(f"callgrind dumps in {dumps} (callgrind_annotate; selfcost.py compares two)")
