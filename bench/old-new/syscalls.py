#!/usr/bin/env python3
"""System calls per request of two builds of every server (strace -c on all threads):
what instructions.py cannot see.

    syscalls.py OLD_BIN_DIR NEW_BIN_DIR LOADGEN OUT.tsv [--servers a,b] [--shapes s]

One worker, null sink, server on core 0 and LOADGEN on core 1, closed loop; strace
attaches after a 1 s warm-up for a 3 s run. Under strace the throughput drops, so
calls that batch (epoll_wait, io_uring_enter) read higher than without it; the calls
made once per request (reads and writes) do not. Prints and appends: server, shape,
build, requests, calls/request, the six most frequent calls per request.
"""
import os, signal, subprocess, tempfile, time
from common import arguments, free_port, requests_total, runs, wait_healthy

a = arguments()
traces = tempfile.mkdtemp(prefix="strace-")
with open(a.out, "a") as out:
    for name, binary, extra, shape, conns, body, build, bindir in runs(a):
        port = free_port()
        server = subprocess.Popen(
            ["taskset", "-c", "0", os.path.join(bindir, binary), "--listen",
             f"127.0.0.1:{port}", "--workers", "1", "--sink", "null"] + extra,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_healthy(port, tries=100, pause=0.1)
        load = ["taskset", "-c", "1", a.loadgen, f"127.0.0.1:{port}", "--connections",
                str(conns), "--body-bytes", str(body), "--seconds"]
        subprocess.run(load + ["1"], capture_output=True)
        trace = os.path.join(traces, f"{name}-{shape}-{build}.txt")
        threads = ",".join(os.listdir(f"/proc/{server.pid}/task"))
        strace = subprocess.Popen(["strace", "-c", "-f", "-p", threads, "-o", trace],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        before = requests_total(port)
        subprocess.run(load + ["3"], capture_output=True)
        after = requests_total(port)
        strace.send_signal(signal.SIGINT)
        strace.wait()
        server.send_signal(signal.SIGKILL)
        server.wait()
        requests = max(after - before - 1, 1)
        calls = {}
        for line in open(trace):
            fields = line.split()
            if len(fields) >= 5 and fields[3].isdigit():
                calls[fields[-1]] = int(fields[3])
        total = calls.pop("total", sum(calls.values()))
        top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
        row = (f"{name}\t{shape}\t{build}\t{int(requests)}\t{total / requests:.2f}\t"
               + " ".join(f"{call}={count / requests:.2f}" for call, count in top))
        print(row, flush=True)
        out.write(row + "\n")
