#!/usr/bin/env python3
"""Durability benchmarks: what each --fsync mode costs, how fast recovery is, what compaction does to p99.

  set     50 connections of 100-byte sets for each of --no-persist, --fsync no, everysec, always;
          server on CPU 0, load generator on CPU 1; modes interleaved forward then backward; means of the runs
  recover write about --recover-mb MB of log, restart, read the server's own recovery line (MB/s, records/s)
  compact 1:1 set:get under load with and without a `compact` in the middle; compaction time and p99 of each
Usage: durability.py [set|recover|compact|all] [--seconds 10] [--recover-mb 1024] [--server PATH]
"""
import argparse, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "src/Cairn.Server/bin/Release/net10.0/cairn-server")
CAIRN_CLI = os.path.join(ROOT, "src/Cairn.Cli/bin/Release/net10.0/cairn")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, args, data_dir):
        self.port = free_port()
        argv = ["taskset", "-c", "0", SERVER, "-p", str(self.port), "-m", "4096", "--data-dir", data_dir] + args
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited: " + "".join(self.lines))
            self.lines.append(line)
            if "listening on" in line:
                break
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line)

    def command(self, text, terminator=b"END\r\n"):
        with socket.create_connection(("127.0.0.1", self.port), timeout=600) as s:
            s.sendall(text.encode())
            data = b""
            while not data.endswith(terminator):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            return data.decode()

    def stats(self):
        out = self.command("stats\r\n")
        return dict(l.split(" ", 2)[1:] for l in out.split("\r\n") if l.startswith("STAT "))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def loadgen(port, seconds, extra):
    out = subprocess.run(["taskset", "-c", "1", CAIRN_CLI, "bench", "--server", f"127.0.0.1:{port}", "--duration", str(seconds), "--json"] + extra,
                         capture_output=True, text=True, timeout=seconds + 120)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_set(seconds):
    modes = [("--no-persist", ["--no-persist"]), ("no", ["--fsync", "no"]), ("everysec", ["--fsync", "everysec"]), ("always", ["--fsync", "always"])]
    runs = {name: [] for name, _ in modes}
    for order in (modes, list(reversed(modes))):
        for name, flags in order:
            data = tempfile.mkdtemp(prefix="cairn-bench-")
            try:
                server = Server(flags, data)
                result = loadgen(server.port, seconds, ["--connections", "50", "--ratio", "1:0", "--value-size", "100", "--keys", "100000"])
                stats = server.stats()
                result["fsyncs"] = int(stats.get("log_fsyncs", 0))
                result["avg_batch"] = float(stats.get("log_group_commit_avg_records", 0))
                server.stop()
                runs[name].append(result)
                print(f"  {name:<13} {result['ops_per_second']:>8.0f} ops/s p99 {result['p99_us']:>7.0f} us", flush=True)
            finally:
                shutil.rmtree(data, ignore_errors=True)

    mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
    base = mean(runs["--no-persist"], "ops_per_second")
    print(f"\nset, 50 connections, 100-byte values, {seconds} s x {len(runs['always'])} runs per mode (means)")
    print(f"| mode | sets/s | vs --no-persist | p50 us | p99 us | p99.9 us | fsyncs/s | records per commit |")
    print(f"| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, _ in modes:
        rs = runs[name]
        print(f"| {name} | {mean(rs, 'ops_per_second'):,.0f} | {mean(rs, 'ops_per_second') / base:.2f} | {mean(rs, 'p50_us'):.0f} | "
              f"{mean(rs, 'p99_us'):.0f} | {mean(rs, 'p999_us'):.0f} | {mean(rs, 'fsyncs') / seconds:,.0f} | {mean(rs, 'avg_batch'):.1f} |")


def bench_recover(megabytes):
    data = tempfile.mkdtemp(prefix="cairn-recover-")
    try:
        server = Server(["--fsync", "no"], data)
        value_size = 1000
        records = megabytes * 1024 * 1024 // (value_size + 60)
        # Distinct keys, so the whole log is live and replay does real work for every record.
        payload = ("v" * value_size).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as s:
            batch = []
            for i in range(records):
                batch.append(b"set key:%09d 0 0 %d noreply\r\n%s\r\n" % (i, value_size, payload))
                if len(batch) == 1000:
                    s.sendall(b"".join(batch))
                    batch.clear()
            s.sendall(b"".join(batch) + b"get key:000000000\r\n")
            data_in = b""
            while not data_in.endswith(b"END\r\n"):
                data_in += s.recv(65536)
        log_bytes = int(server.stats()["log_bytes"])
        server.stop()

        server = Server([], data)
        line = next(l for l in server.lines if "recovered" in l)
        m = re.search(r"recovered \d+ items from (\d+) records \((\d+) bytes, (\d+) segments\) from .* in ([\d.]+) s", line)
        recs, nbytes, segs, secs = int(m.group(1)), int(m.group(2)), int(m.group(3)), float(m.group(4))
        items = int(server.stats()["curr_items"])
        server.stop()
        print(f"\nrecovery: {nbytes / 2**20:,.0f} MiB log ({segs} segments, {recs:,} records, {items:,} items) replayed in {secs:.2f} s: "
              f"{nbytes / 2**20 / secs:,.0f} MiB/s, {recs / secs:,.0f} records/s (log_bytes before restart {log_bytes / 2**20:,.0f} MiB)")
    finally:
        shutil.rmtree(data, ignore_errors=True)


def bench_compact(seconds):
    results = {}
    for with_compaction in (False, True):
        data = tempfile.mkdtemp(prefix="cairn-compact-")
        try:
            server = Server(["--fsync", "everysec"], data)
            # Build garbage first: every key written several times.
            loadgen(server.port, 5, ["--connections", "20", "--ratio", "1:0", "--keys", "20000", "--value-size", "1000"])
            before = int(server.stats()["log_bytes"])
            timing = {}

            def compact():
                time.sleep(seconds / 3)
                started = time.time()
                reply = server.command("compact\r\n", terminator=b"\r\n")
                timing["seconds"] = time.time() - started
                timing["reply"] = reply.strip()

            thread = threading.Thread(target=compact) if with_compaction else None
            if thread:
                thread.start()
            result = loadgen(server.port, seconds, ["--connections", "50", "--ratio", "1:1", "--keys", "20000", "--value-size", "1000"])
            if thread:
                thread.join()
            after = int(server.stats()["log_bytes"])
            server.stop()
            results[with_compaction] = (result, timing, before, after)
        finally:
            shutil.rmtree(data, ignore_errors=True)

    print(f"\ncompaction under load (50 connections, 1:1 set:get, 1000-byte values, 20k keys, {seconds} s)")
    for flag in (False, True):
        result, timing, before, after = results[flag]
        label = "with compact" if flag else "no compaction"
        extra = f", compact took {timing['seconds']:.2f} s ({timing['reply']}), log {before / 2**20:.0f} -> {after / 2**20:.0f} MiB" if flag else ""
        print(f"  {label:<14} {result['ops_per_second']:>8.0f} ops/s p99 {result['p99_us']:>6.0f} us p99.9 {result['p999_us']:>6.0f} us max {result['max_us']:>7.0f} us{extra}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", default="all", choices=["set", "recover", "compact", "all"])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--recover-mb", type=int, default=1024)
    parser.add_argument("--server", default=None, help="a cairn-server to measure instead (say, an older build for a before/after)")
    args = parser.parse_args()
    if args.server:
        global SERVER
        SERVER = args.server
    if args.what in ("set", "all"):
        bench_set(args.seconds)
    if args.what in ("recover", "all"):
        bench_recover(args.recover_mb)
    if args.what in ("compact", "all"):
        bench_compact(args.seconds)


if __name__ == "__main__":
    sys.exit(main())
