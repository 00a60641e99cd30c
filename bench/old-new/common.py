"""What the old-against-new scripts share: the servers, the shapes, the command line,
the runs, and talking to a server's /healthz and /metrics. Python 3 standard library
only."""
import argparse
import re
import socket
import time

# (name, binary, extra arguments): every server and engine.
SERVERS = [
    ("hyper", "runtime-hyper", []),
    ("tokio", "runtime-tokio", []),
    ("uring", "runtime-uring", []),
    ("loop-epoll", "runtime-loop", ["--engine", "epoll"]),
    ("loop-uring", "runtime-loop", ["--engine", "io-uring"]),
]
# (name, connections, body bytes): the two load shapes.
SHAPES = [("64c-256B", 64, 256), ("8c-16KiB", 8, 16384)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(port, path, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode(errors="replace")


def requests_total(port):
    """Requests the server answered so far (all statuses), from /metrics."""
    text = http_get(port, "/metrics")
    return sum(float(m.group(1)) for m in
               re.finditer(r'^http_requests_total\{[^}]*\} (\S+)$', text, re.M))


def selected(items, wanted):
    """The items whose name is in the comma-separated `wanted` (all if empty)."""
    names = [w for w in wanted.split(",") if w]
    return [item for item in items if not names or item[0] in names]


def arguments(add=lambda parser: None):
    """The command line every script takes (OLD_BIN_DIR NEW_BIN_DIR LOADGEN OUT
    [--servers] [--shapes]), with the script's own options added by `add`."""
    parser = argparse.ArgumentParser()
    for name in ("old", "new", "loadgen", "out"):
        parser.add_argument(name)
    parser.add_argument("--servers", default="")
    parser.add_argument("--shapes", default="")
    add(parser)
    return parser.parse_args()


def runs(args):
    """Every (server name, binary, extra arguments, shape, connections, body bytes,
    build, binary directory) to measure, old before new."""
    for name, binary, extra in selected(SERVERS, args.servers):
        for shape, conns, body in selected(SHAPES, args.shapes):
            for build, bindir in [("old", args.old), ("new", args.new)]:
                yield name, binary, extra, shape, conns, body, build, bindir


def wait_healthy(port, tries=240, pause=0.25):
    """Until the server on `port` answers /healthz 200 (or the tries run out)."""
    for _ in range(tries):
        try:
            if " 200 " in http_get(port, "/healthz").split("\r\n")[0]:
                return
        except OSError:
            time.sleep(pause)
