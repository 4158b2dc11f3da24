#!/usr/bin/env python3
"""Restart time: how long cairn-server takes from exec to accepting connections, for a log of N items.

Writes --items items (14-byte keys, --value-size byte values) through one pipelined connection with --fsync no,
stops the server with SIGTERM, then starts it again:
  hot     the log is in the page cache
  cold    the page cache dropped first (echo 3 > /proc/sys/vm/drop_caches; skipped when that is not writable)
  rewrite every key written a second time, so half the log is dead; compaction held off, so replay reads all of it
  compact after `compact` the log is one snapshot of the live items plus an empty tail
Each start is timed from exec to the "listening on" line, and the server's own recovery line gives the log bytes
and records replayed. The server may use both cores (replay runs on two threads when there are two).
Usage: /usr/bin/python3 bench/restart.py [--items 1000000] [--value-size 100] [--repeats 3] [--memory-mb M] [--server PATH]
"""
import argparse, os, re, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "src/Cairn.Server/bin/Release/net10.0/cairn-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, memory_mb, extra=()):
        self.port = free_port()
        started = time.monotonic()
        self.proc = subprocess.Popen([SERVER, "-p", str(self.port), "-m", str(memory_mb), "--data-dir", data_dir, "--fsync", "no", *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.recovery = None
        for line in self.proc.stderr:
            if "recovered" in line:
                m = re.search(r"from (\d+) records \((\d+) bytes, (\d+) segments\) .* in ([\d.]+) s", line)
                self.recovery = (int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4)))
            if "listening on" in line:
                break
        else:
            raise RuntimeError("cairn-server exited before listening")
        self.start_seconds = time.monotonic() - started
        status = open(f"/proc/{self.proc.pid}/status").read()
        self.rss_mib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024

    def request(self, payload, terminator):
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s:
            s.sendall(payload)
            data = b""
            while not data.endswith(terminator):
                chunk = s.recv(1 << 16)
                if not chunk:
                    raise RuntimeError("connection closed")
                data += chunk
            return data

    def stats(self):
        text = self.request(b"stats\r\n", b"END\r\n").decode()
        return {p[1]: p[2] for p in (l.split(" ") for l in text.split("\r\n")) if len(p) == 3}

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def write_items(server, items, value_size, tag):
    value = (tag * value_size)[:value_size].encode()
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        batch = []
        for i in range(items):
            batch.append(b"set key:%010d 0 0 %d noreply\r\n%s\r\n" % (i, value_size, value))
            if len(batch) == 2000:
                s.sendall(b"".join(batch))
                batch.clear()
        # mn on the same connection answers only after every set before it was processed.
        s.sendall(b"".join(batch) + b"mn\r\n")
        data = b""
        while not data.endswith(b"MN\r\n"):
            data += s.recv(1 << 16)


def drop_caches():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def measure(label, data, memory_mb, repeats, items, cold=False, extra=()):
    runs = []
    for _ in range(repeats):
        if cold and not drop_caches():
            print(f"{label:<8} skipped: /proc/sys/vm/drop_caches is not writable (run as root)")
            return
        server = Server(data, memory_mb, extra)
        count = int(server.stats()["curr_items"])
        server.stop()
        if count != items:
            raise RuntimeError(f"{label}: {count} items after restart, expected {items}")
        runs.append(server)
    best = min(runs, key=lambda r: r.start_seconds)
    records, nbytes, segments, replay = best.recovery
    starts = ", ".join(f"{r.start_seconds:.2f}" for r in runs)
    print(f"{label:<8} start to listening {best.start_seconds:5.2f} s (runs: {starts}); replay {replay:.2f} s of {nbytes / 2**20:,.0f} MiB, "
          f"{records:,} records, {segments} segments: {nbytes / 2**20 / replay:,.0f} MiB/s, {records / replay / 1e6:.2f} M records/s; "
          f"RSS {best.rss_mib:,.0f} MiB")


def main():
    global SERVER
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-mb", type=int, default=None,
                        help="the server's -m (default: room for every value); smaller keeps the rest of the values on disk only")
    parser.add_argument("--server", default=None, help="a cairn-server to measure instead (say, an older build for a before/after)")
    args = parser.parse_args()
    SERVER = args.server or SERVER
    memory_mb = args.memory_mb or max(1024, args.items * (args.value_size + 200) * 2 // 2**20)
    data = tempfile.mkdtemp(prefix="cairn-restart-")
    try:
        server = Server(data, memory_mb)
        write_items(server, args.items, args.value_size, "v")
        server.stop()
        print(f"{args.items:,} items, 14-byte keys, {args.value_size}-byte values, {os.cpu_count()} cores")
        measure("hot", data, memory_mb, args.repeats, args.items)
        measure("cold", data, memory_mb, args.repeats, args.items, cold=True)

        # No compaction, in the background or at start, so the restart replays the whole history.
        keep_history = ["--compact-min-size", "1000g"]
        server = Server(data, memory_mb, keep_history)
        write_items(server, args.items, args.value_size, "w")
        server.stop()
        measure("rewrite", data, memory_mb, args.repeats, args.items, extra=keep_history)

        server = Server(data, memory_mb)
        server.request(b"compact\r\n", b"\r\n")
        server.stop()
        measure("compact", data, memory_mb, args.repeats, args.items)
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
