#!/usr/bin/env python3
"""Context switches and server CPU per request: Cairn builds and memcached under the same memtier load.

Each server runs pinned to CPU 0, memtier_benchmark 2.3.0 on CPU 1: 50 connections, 1:10 set:get, 100-byte values,
pipeline 1, text protocol, --seconds per run. Before and after each run the server's threads are read from
/proc/PID/task/*/status (voluntary and involuntary context switches) and /proc/PID/stat (CPU time); the table gives
switches and CPU microseconds per request. Runs alternate between the servers, --rounds times.
Usage: python3 bench/context_switches.py [--seconds 10] [--rounds 2] [--cairn PATH ...] [--memtier PATH] [--fsync everysec | --no-persist]
"""
import argparse, glob, json, os, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def switches(pid):
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_listening(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not listen")


def run(args, name, argv, port):
    proc = subprocess.Popen(["taskset", "-c", "0", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        out = tempfile.mktemp(suffix=".json")
        memtier = ["taskset", "-c", "1", args.memtier, "-s", "127.0.0.1", "-p", str(port), "--protocol", "memcache_text",
                   "-t", "1", "-c", "50", "--pipeline", "1", "-d", "100", "--ratio", "1:10", "--key-pattern", "R:R",
                   "--key-maximum", "100000", "--hide-histogram", "--distinct-client-seed"]
        subprocess.run(memtier + ["--test-time", "2"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s0, c0 = switches(proc.pid), cpu_seconds(proc.pid)
        subprocess.run(memtier + ["--test-time", str(args.seconds), "--json-out-file", out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s1, c1 = switches(proc.pid), cpu_seconds(proc.pid)
        with open(out) as f:
            totals = json.load(f)["ALL STATS"]["Totals"]
        os.unlink(out)
        ops = totals["Count"] if "Count" in totals else totals["Ops/sec"] * args.seconds
        return totals["Ops/sec"], (s1 - s0) / ops, (c1 - c0) / ops * 1e6
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cairn", action="append", default=None,
                        help="a cairn-server build to compare, optionally with its own flags ('PATH --no-persist'); repeatable")
    parser.add_argument("--fsync", default="everysec")
    parser.add_argument("--no-persist", action="store_true", help="run Cairn with --no-persist instead of a log")
    parser.add_argument("--memtier", default=shutil.which("memtier_benchmark") or "/tmp/memtier/memtier_benchmark")
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    args = parser.parse_args()
    builds = args.cairn or [os.path.join(ROOT, "src/Cairn.Server/bin/Release/net10.0/cairn-server")]
    results = {}
    for _ in range(args.rounds):
        for i, build in enumerate(builds):
            data = tempfile.mkdtemp(prefix="cairn-cs-")
            port = free_port()
            path, *flags = build.split()
            if not flags:
                flags = ["--no-persist"] if args.no_persist else ["--fsync", args.fsync]
            if "--no-persist" not in flags:
                flags = ["--data-dir", data, *flags]
            try:
                r = run(args, f"cairn{i}", [path, "-p", str(port), "-m", "1024", *flags], port)
            finally:
                shutil.rmtree(data, ignore_errors=True)
            results.setdefault(f"cairn {os.path.relpath(path, ROOT) if path.startswith(ROOT) else path} {' '.join(flags).replace('--data-dir ' + data, '').strip()}", []).append(r)
        if os.path.exists(args.memcached):
            port = free_port()
            results.setdefault("memcached", []).append(run(args, "memcached", [args.memcached, "-u", "root", "-U", "0", "-t", "1", "-l", "127.0.0.1", "-p", str(port)], port))
    print(f"text, pipeline 1, 1:10 set:get, 50 connections, {args.seconds} s x {args.rounds} (means); Cairn {'--no-persist' if args.no_persist else '--fsync ' + args.fsync}")
    print("| server | ops/s | context switches per request | server CPU us per request |")
    print("| --- | --- | --- | --- |")
    for name, rows in results.items():
        n = len(rows)
        print(f"| {name} | {sum(r[0] for r in rows) / n:,.0f} | {sum(r[1] for r in rows) / n:.3f} | {sum(r[2] for r in rows) / n:.2f} |")


if __name__ == "__main__":
    main()
