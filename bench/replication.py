#!/usr/bin/env python3
"""Replication figures: full-resync speed, and replica lag while the primary takes writes.

Starts a primary (Release build) on a temp data directory, loads --megabytes of 1,000-byte values, starts a
replica with --replica-of and times until it has applied everything (full resync: log bytes / seconds). Then runs
`cairn bench` sets against the primary for --seconds while reading the replica's lag (records behind, from
`stats replication`) every 50 ms. Server on CPU 0, replica and load on CPU 1.
Usage: replication.py [--megabytes 200] [--seconds 10]
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_per_item import free_port, connect  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "..", "src", "Cairn.Server", "bin", "Release", "net10.0", "cairn-server.dll")
CLI = os.path.join(HERE, "..", "src", "Cairn.Cli", "bin", "Release", "net10.0", "cairn.dll")


def stats(port, group="replication"):
    s = connect(port)
    s.sendall(f"stats {group}\r\n".encode())
    data = b""
    while not data.endswith(b"END\r\n"):
        data += s.recv(65536)
    s.close()
    out = {}
    for line in data.decode().splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            out[parts[1]] = parts[2]
    return out


def start(args, cpu):
    return subprocess.Popen(["taskset", "-c", str(cpu), "dotnet", SERVER] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--megabytes", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="cairn-repl-bench-")
    primary_port, replica_port = free_port(), free_port()
    primary = start(["-p", str(primary_port), "--data-dir", os.path.join(work, "primary")], 0)
    replica = None
    try:
        s = connect(primary_port)
        value = b"v" * 1000
        items = args.megabytes * 1024 * 1024 // 1000
        batch = []
        for i in range(items):
            batch.append(b"set key:%09d 0 0 1000 noreply\r\n%s\r\n" % (i, value))
            if len(batch) == 1000:
                s.sendall(b"".join(batch))
                batch.clear()
        s.sendall(b"".join(batch) + b"get key:000000000\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += s.recv(65536)
        target = int(stats(primary_port)["log_last_sequence"])
        started = time.time()
        replica = start(["-p", str(replica_port), "--data-dir", os.path.join(work, "replica"), "--replica-of", f"127.0.0.1:{primary_port}"], 1)
        deadline = time.time() + float(os.environ.get("CATCHUP_SECONDS", "300"))
        while True:
            try:
                st = stats(replica_port)
                if int(st.get("applied_sequence", "0")) >= target:
                    break
            except OSError:
                st = {}
            if time.time() > deadline:
                raise SystemExit(f"the replica did not catch up in 300 s: {st} (primary at {target})")
            time.sleep(0.05)
        elapsed = time.time() - started
        size = sum(os.path.getsize(os.path.join(work, "primary", f)) for f in os.listdir(os.path.join(work, "primary")) if f.endswith(".seg"))
        print(f"full resync: {items:,} items, {size / 2**20:,.0f} MiB of log in {elapsed:.2f} s = {size / 2**20 / elapsed:,.0f} MiB/s (replica started to caught up)")

        lags = []
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    st = stats(replica_port)
                    p = int(stats(primary_port)["log_last_sequence"])
                    lags.append(max(0, p - int(st["applied_sequence"])))
                except OSError:
                    pass
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        bench = subprocess.run(["taskset", "-c", "1", "dotnet", CLI, "bench", "--server", f"127.0.0.1:{primary_port}", "--connections", "50",
                                "--duration", str(args.seconds), "--ratio", "1:0", "--value-size", "100", "--json"], capture_output=True, text=True)
        stop.set()
        sampler.join()
        print(f"under load: {bench.stdout.strip()}")
        print(f"replica lag in records, sampled every 50 ms: median {statistics.median(lags):.0f}, p99 {sorted(lags)[int(len(lags) * 0.99) - 1]}, max {max(lags)} ({len(lags)} samples)")
    finally:
        for p in (replica, primary):
            if p:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
