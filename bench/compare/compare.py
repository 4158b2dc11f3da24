#!/usr/bin/env python3
"""Cairn against Debian's memcached under the same `cairn bench` workloads, interleaved A B B A.

Each server runs pinned to CPU 0 and `cairn bench` to CPU 1, on free loopback ports. For every workload
(pipeline 1 and 16, 50 and 1000 connections, 100-byte and 4 KB values, 1:10 set:get) the two servers are run
A B B A ... (--runs each, at least 3), and the table shows medians and Cairn/memcached ratios of ops/s, p99
and server CPU time per operation (from /proc; at pipeline 1 the load generator's core is the wall on a
2-core box, so CPU per operation is what tells the servers apart).
With --loadgen memtier (the default when memtier_benchmark is found in $MEMTIER or on PATH) the load comes from
memtier_benchmark 2.3.0 instead (a peer's load generator: `memcache_text`, one thread per 50 connections, the
same ratio, keys, values and pipeline depth); `cairn bench` stays for what memtier cannot do (binary, meta).
Usage: compare.py [--fsync everysec|always|no|off] [--runs 3] [--seconds 5] [--quick] [--loadgen auto|cairn|memtier]
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CAIRN_SERVER = os.path.join(ROOT, "src/Cairn.Server/bin/Release/net10.0/cairn-server")
CAIRN_CLI = os.path.join(ROOT, "src/Cairn.Cli/bin/Release/net10.0/cairn")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_port(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(name, fsync, data_root):
    port = free_port()
    if name == "cairn":
        flags = ["--no-persist"] if fsync == "off" else ["--fsync", fsync, "--data-dir", tempfile.mkdtemp(dir=data_root)]
        argv = [CAIRN_SERVER, "-p", str(port), "-m", "4096", "-c", "4096"] + flags
    else:
        argv = ["memcached", "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p", str(port), "-m", "4096", "-c", "4096", "-t", "1"]
    proc = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def find_memtier():
    candidate = os.environ.get("MEMTIER") or shutil.which("memtier_benchmark")
    return candidate if candidate and os.access(candidate, os.X_OK) else None


def memtier_load(memtier, port, workload, seconds):
    """One memtier_benchmark run; returns the same fields `cairn bench --json` does."""
    threads = max(1, workload["connections"] // 50)
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        subprocess.run(["taskset", "-c", "1", memtier, "-s", "127.0.0.1", "-p", str(port), "-P", "memcache_text",
                        "--ratio", "1:10", "--key-maximum", "10000", "-d", str(workload["value"]),
                        "--pipeline", str(workload["pipeline"]), "-t", str(threads), "-c", str(workload["connections"] // threads),
                        "--test-time", str(seconds), "--hide-histogram", "--json-out-file", report.name],
                       capture_output=True, text=True, timeout=seconds + 120, check=True)
        totals = json.load(open(report.name))["ALL STATS"]["Totals"]
    return {"ops": totals["Count"], "ops_per_second": totals["Ops/sec"],
            "p99_us": totals["Percentile Latencies"]["p99.00"] * 1000, "errors": totals["Connection Errors"]}


def run(name, workload, args, data_root):
    proc, port = start(name, args.fsync, data_root)
    try:
        before = cpu_seconds(proc.pid)
        if args.memtier:
            result = memtier_load(args.memtier, port, workload, args.seconds)
            result["cpu_us_per_op"] = (cpu_seconds(proc.pid) - before) / max(result["ops"], 1) * 1e6
            return result

        out = subprocess.run(["taskset", "-c", "1", CAIRN_CLI, "bench", "--server", f"127.0.0.1:{port}", "--json",
                              "--duration", str(args.seconds), "--ratio", "1:10", "--keys", "10000",
                              "--connections", str(workload["connections"]), "--pipeline", str(workload["pipeline"]),
                              "--value-size", str(workload["value"])],
                             capture_output=True, text=True, timeout=args.seconds + 120)
        cpu = cpu_seconds(proc.pid) - before
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["cpu_us_per_op"] = cpu / max(result["ops"], 1) * 1e6
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fsync", default="everysec", choices=["everysec", "always", "no", "off"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="only pipeline 1, 50 connections, 100 bytes")
    parser.add_argument("--loadgen", default="auto", choices=["auto", "cairn", "memtier"])
    args = parser.parse_args()
    args.memtier = find_memtier() if args.loadgen != "cairn" else None
    if args.loadgen == "memtier" and not args.memtier:
        parser.error("--loadgen memtier: set MEMTIER to a memtier_benchmark binary (see ../shared/bench/peer-bench.sh for building it)")
    workloads = [{"pipeline": p, "connections": c, "value": v}
                 for p in (1, 16) for c in (50, 1000) for v in (100, 4096)]
    if args.quick:
        workloads = workloads[:1]

    data_root = tempfile.mkdtemp(prefix="cairn-compare-")
    rows = []
    try:
        for w in workloads:
            results = {"cairn": [], "memcached": []}
            for i in range(args.runs):
                order = ("cairn", "memcached") if i % 2 == 0 else ("memcached", "cairn")
                for name in order:
                    r = run(name, w, args, data_root)
                    results[name].append(r)
                    print(f"  p{w['pipeline']:<2} c{w['connections']:<4} v{w['value']:<4} {name:<9} {r['ops_per_second']:>9.0f} ops/s "
                          f"p99 {r['p99_us']:>8.0f} us cpu {r['cpu_us_per_op']:.2f} us/op errors {r['errors']}", file=sys.stderr, flush=True)
            med = {n: {k: statistics.median(x[k] for x in rs) for k in ("ops_per_second", "p99_us", "cpu_us_per_op", "errors")} for n, rs in results.items()}
            rows.append((w, med))
    finally:
        shutil.rmtree(data_root, ignore_errors=True)

    cairn_mode = "--no-persist" if args.fsync == "off" else f"--fsync {args.fsync}"
    loadgen = "memtier_benchmark -P memcache_text" if args.memtier else "cairn bench"
    print(f"\n{loadgen} --ratio 1:10 --keys 10000 --duration {args.seconds}; Cairn {cairn_mode} vs memcached -t 1; "
          f"server on CPU 0, bench on CPU 1; medians of {args.runs} runs each, interleaved")
    print("| pipeline | connections | value | Cairn ops/s | memcached ops/s | ops/s ratio | Cairn p99 | memcached p99 | p99 ratio | Cairn CPU/op | memcached CPU/op | CPU/op ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w, m in rows:
        c, mc = m["cairn"], m["memcached"]
        print(f"| {w['pipeline']} | {w['connections']} | {w['value']} B | {c['ops_per_second']:,.0f} | {mc['ops_per_second']:,.0f} | "
              f"{c['ops_per_second'] / mc['ops_per_second']:.2f} | {c['p99_us'] / 1000:.2f} ms | {mc['p99_us'] / 1000:.2f} ms | "
              f"{c['p99_us'] / mc['p99_us']:.2f} | {c['cpu_us_per_op']:.2f} us | {mc['cpu_us_per_op']:.2f} us | "
              f"{c['cpu_us_per_op'] / mc['cpu_us_per_op']:.2f} |")
    errors = sum(m[n]["errors"] for _, m in rows for n in m)
    print(f"\nerrors (sum of medians): {errors}")


if __name__ == "__main__":
    sys.exit(main())
