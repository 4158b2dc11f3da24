#!/usr/bin/env python3
"""Resident memory per connection: Cairn against memcached, same clients, same run.

For each server: N idle connections (RSS after they connect), then one `get` on each (RSS after), then M
connections that each send a multi-key `get` line of about 2 MiB without its newline and close (RSS after they
have gone). Prints bytes per connection for the first two and what stayed after the third.
Usage: connection_memory.py [--connections 10000] [--parked 300] [--settle 20] [--cairn-args ...]
"""
import argparse, os, resource, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_per_item import free_port, rss_bytes, connect  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def settle(pid, seconds=1.5):
    time.sleep(seconds)
    return rss_bytes(pid)


def measure(name, command, port, args):
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        probe = connect(port)
        probe.sendall(b"version\r\n")
        probe.recv(100)
        base = settle(proc.pid)
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(args.connections)]
        idle = settle(proc.pid)
        for c in conns:
            c.sendall(b"get k\r\n")
        for c in conns:
            while not c.recv(100).endswith(b"END\r\n"):
                pass
        used = settle(proc.pid)
        for c in conns:
            c.close()
        closed = settle(proc.pid, args.settle)
        line = b"get " + b" ".join(b"k%07d" % i for i in range(2 * 1024 * 1024 // 9))
        parked = []
        for _ in range(args.parked):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(line[: 2 * 1024 * 1024 - 16])
            parked.append(s)
        time.sleep(2)
        peak = rss_bytes(proc.pid)
        for s in parked:
            s.close()
        after = settle(proc.pid, args.settle)
        n = args.connections
        print(f"{name:10} idle {(idle - base) / n:8.0f} B/conn   after one get {(used - base) / n:8.0f} B/conn   "
              f"closed: {(closed - base) / 2**20:6.1f} MiB above start   "
              f"{args.parked} x 2 MiB parked lines: peak {(peak - base) / 2**20:6.1f} MiB, after close {(after - base) / 2**20:6.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--parked", type=int, default=300)
    ap.add_argument("--settle", type=float, default=20.0, help="seconds to wait after closing before reading RSS (Kestrel evicts idle pool blocks every 10 s)")
    ap.add_argument("--cairn", default=os.path.join(HERE, "..", "src", "Cairn.Server", "bin", "Release", "net10.0", "cairn-server.dll"))
    ap.add_argument("--memcached", default=shutil.which("memcached") or "/usr/bin/memcached")
    ap.add_argument("--cairn-args", default="--no-persist")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections * 2 + 1000)), hard))
    limit = str(args.connections + args.parked + 100)
    port = free_port()
    measure("cairn", ["dotnet", args.cairn, "-p", str(port), "-c", limit] + args.cairn_args.split(), port, args)
    port = free_port()
    measure("memcached", [args.memcached, "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p", str(port), "-c", limit, "-t", "1"], port, args)


if __name__ == "__main__":
    main()
