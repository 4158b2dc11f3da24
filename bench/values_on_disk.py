#!/usr/bin/env python3
"""Values beyond memory: get throughput and p99 when a share of the gets must read the value from the log.

The server runs with -m MEMORY (pinned to CPU 0) and memtier_benchmark (pinned to CPU 1) first writes N keys once, in
order, then reads uniformly random keys among them for --seconds. With memory for about H values, uniform reads over N
keys find about H/N of them in memory, so N picks the share read from disk:
  in-memory  N = H / 2       (everything fits)
  50% cold   N = 2 H
  90% cold   N = 10 H
Each cold case runs with the page cache warm, and again right after `echo 3 > /proc/sys/vm/drop_caches` (skipped
when that is not writable). The share of gets actually read from disk is taken from the server's own counters
(cold_reads / get_hits over the run), along with its mean cold read time.
Then write throughput while compaction runs: random sets over the 90% store for --seconds, once alone and once with
`compact` issued in a loop the whole time; reported as a ratio.
Usage: python3 bench/values_on_disk.py [--memory-mb 64] [--value-size 1000] [--seconds 10] [--memtier PATH] [--server PATH]
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER = os.path.join(ROOT, "src/Cairn.Server/bin/Release/net10.0/cairn-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(port, line, terminator=b"END\r\n"):
    with socket.create_connection(("127.0.0.1", port), timeout=600) as s:
        s.sendall(line.encode() + b"\r\n")
        data = b""
        while not (data.endswith(terminator) or data.endswith(b"OK\r\n") or b"ERROR" in data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()


def stats(port, kind=""):
    text = command(port, ("stats " + kind).strip())
    return {p[1]: p[2] for p in (line.split(" ") for line in text.splitlines()) if len(p) == 3 and p[0] == "STAT"}


def memtier(args, port, extra):
    out = tempfile.mktemp(suffix=".json")
    cmd = ["taskset", "-c", "1", args.memtier, "-s", "127.0.0.1", "-p", str(port), "--protocol", "memcache_text",
           "-t", "1", "-c", "50", "--pipeline", "1", "-d", str(args.value_size), "--hide-histogram",
           "--print-percentiles", "50,99", "--distinct-client-seed", "--randomize", "--json-out-file", out, *extra]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out) as f:
        totals = json.load(f)["ALL STATS"]["Totals"]
    os.unlink(out)
    return totals["Ops/sec"], totals.get("Percentile Latencies", {}).get("p99.00", float("nan"))


def drop_page_cache():
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


class Server:
    def __init__(self, args, data_dir):
        self.port = free_port()
        self.proc = subprocess.Popen(["taskset", "-c", "0", args.server, "-p", str(self.port), "-m", str(args.memory_mb),
                                      "--data-dir", data_dir, "-c", "4096"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in self.proc.stderr:
            if "listening on" in line:
                break
        else:
            raise RuntimeError("cairn-server exited before listening")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)


def load(args, port, keys):
    memtier(args, port, ["--ratio", "1:0", "--key-pattern", "P:P", "--key-minimum", "1", "--key-maximum", str(keys),
                         "-n", "allkeys", "-c", "1"])


def read_run(args, port, keys, label, drop):
    if drop and not drop_page_cache():
        print(f"{label:<28} skipped: /proc/sys/vm/drop_caches is not writable")
        return
    before = stats(port)
    ops, p99 = memtier(args, port, ["--ratio", "0:1", "--key-pattern", "R:R", "--key-minimum", "1", "--key-maximum", str(keys),
                                    "--test-time", str(args.seconds)])
    after = stats(port)
    hits = int(after["get_hits"]) - int(before["get_hits"])
    misses = int(after["get_misses"]) - int(before["get_misses"])
    cold = int(after["cold_reads"]) - int(before["cold_reads"])
    errors = int(after["cold_read_errors"]) - int(before["cold_read_errors"])
    share = cold / hits * 100 if hits else 0
    print(f"{label:<28} {ops:>10,.0f} gets/s  p99 {p99:>7.3f} ms  from disk {share:5.1f}%  "
          f"mean cold read {after['cold_read_mean_us']:>4} us  misses {misses}  errors {errors}", flush=True)
    return ops


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory-mb", type=int, default=64)
    parser.add_argument("--value-size", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--memtier", default=shutil.which("memtier_benchmark") or "/tmp/memtier/memtier_benchmark")
    parser.add_argument("--server", default=SERVER)
    args = parser.parse_args()
    if not os.path.exists(args.memtier):
        sys.exit(f"values_on_disk.py: memtier_benchmark not found at {args.memtier}; build it (../shared/bench/peer-bench.sh says how) and pass --memtier")

    # How many values fit: measured, not guessed, from a store filled past -m.
    data_dir = tempfile.mkdtemp(prefix="cairn-values-on-disk-")
    try:
        server = Server(args, data_dir)
        probe_keys = args.memory_mb * 1024 * 1024 // args.value_size * 2
        load(args, server.port, probe_keys)
        s = stats(server.port)
        fits = int(s["items_in_memory"])
        server.stop()
        print(f"-m {args.memory_mb}, {args.value_size}-byte values: {fits:,} values fit in memory; 50 connections, "
              f"uniform random gets, {args.seconds} s each, server on CPU 0, memtier on CPU 1", flush=True)

        for label, keys, drops in [("in memory", fits // 2, [False]), ("50% of gets from disk", fits * 2, [False, True]),
                                   ("90% of gets from disk", fits * 10, [False, True])]:
            shutil.rmtree(data_dir)
            os.mkdir(data_dir)
            server = Server(args, data_dir)
            try:
                load(args, server.port, keys)
                memtier(args, server.port, ["--ratio", "0:1", "--key-pattern", "R:R", "--key-minimum", "1",
                                            "--key-maximum", str(keys), "--test-time", "3"])
                for drop in drops:
                    read_run(args, server.port, keys, f"{label}{', cache dropped' if drop else ''} ({keys:,} keys)", drop)
                if keys == fits * 10:
                    write_during_compaction(args, server.port, keys)
            finally:
                server.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def write_during_compaction(args, port, keys):
    sets = ["--ratio", "1:0", "--key-pattern", "R:R", "--key-minimum", "1", "--key-maximum", str(keys), "--test-time", str(args.seconds)]
    alone, alone_p99 = memtier(args, port, sets)
    stop = threading.Event()
    compactions = [0]

    def compact_loop():
        while not stop.is_set():
            command(port, "compact", terminator=b"OK\r\n")
            compactions[0] += 1

    compactor = threading.Thread(target=compact_loop)
    compactor.start()
    during, during_p99 = memtier(args, port, sets)
    stop.set()
    compactor.join()
    print(f"{'sets alone':<28} {alone:>10,.0f} sets/s  p99 {alone_p99:>7.3f} ms")
    print(f"{'sets while compacting':<28} {during:>10,.0f} sets/s  p99 {during_p99:>7.3f} ms  "
          f"({compactions[0]} compactions of a {keys:,}-key store; ratio {during / alone:.2f})", flush=True)


if __name__ == "__main__":
    main()
