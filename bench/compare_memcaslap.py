#!/usr/bin/env python3
"""Throughput side by side: Cairn and memcached under the same memcaslap load, interleaved A B B A.

Each server runs pinned to CPU 0 and memcaslap to CPU 1 (on a 2-core box the load generator is the wall,
so server CPU time per operation is what tells the servers apart). Reports median ops/s and server CPU
microseconds per operation from /proc, and the Cairn/memcached ratios.
Usage: compare_memcaslap.py [--seconds 10] [--rounds 2] [--concurrency 50] [--value-size 100]
"""
import argparse, os, re, shlex, shutil, socket, statistics, subprocess, sys, tempfile, time

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
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def run_once(name, argv, port, args):
    server = subprocess.Popen(["taskset", "-c", "0"] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        cpu_before = cpu_seconds(server.pid)
        out = subprocess.run(["taskset", "-c", "1", "memcaslap", "-s", f"127.0.0.1:{port}", "-T", "1",
                              "-c", str(args.concurrency), "-X", str(args.value_size), "-t", f"{args.seconds}s"],
                             capture_output=True, text=True, timeout=args.seconds + 60).stdout
        cpu = cpu_seconds(server.pid) - cpu_before
        match = re.search(r"Run time: [\d.]+s Ops: (\d+) TPS: (\d+)", out)
        if not match:
            raise RuntimeError(f"{name}: could not read memcaslap output:\n{out}")
        ops, tps = int(match.group(1)), int(match.group(2))
        return {"tps": tps, "cpu_us_per_op": cpu / ops * 1e6}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="each round runs A B B A")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--value-size", type=int, default=100)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--cairn", default=os.path.join(root, "src/Cairn.Server/bin/Release/net10.0/cairn-server"))
    parser.add_argument("--cairn-args", default="", help="extra flags for Cairn, e.g. '--fsync always' or '--no-persist'")
    args = parser.parse_args()
    data_root = tempfile.mkdtemp(prefix="cairn-compare-")

    def cairn():
        port = free_port()
        data = tempfile.mkdtemp(dir=data_root)
        return "cairn", [args.cairn, "-p", str(port), "-m", "2048", "--data-dir", data] + shlex.split(args.cairn_args), port

    def memcached():
        port = free_port()
        return "memcached", ["memcached", "-u", "root", "-U", "0", "-l", "127.0.0.1", "-p", str(port), "-m", "2048", "-t", "1"], port

    results = {"cairn": [], "memcached": []}
    for _ in range(args.rounds):
        for make in (cairn, memcached, memcached, cairn):
            name, argv, port = make()
            result = run_once(name, argv, port, args)
            results[name].append(result)
            print(f"{name:<10} {result['tps']:>9} ops/s  {result['cpu_us_per_op']:.2f} us CPU/op", flush=True)

    shutil.rmtree(data_root, ignore_errors=True)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in ("tps", "cpu_us_per_op")} for name, runs in results.items()}
    print(f"\nCairn flags: {args.cairn_args or '(defaults: --fsync everysec)'}")
    print(f"memcaslap -T 1 -c {args.concurrency} -X {args.value_size} -t {args.seconds}s (get:set 9:1), "
          f"{len(results['cairn'])} runs each, medians")
    print(f"{'server':<10} {'ops/s':>9} {'server CPU us/op':>17}")
    for name in ("cairn", "memcached"):
        print(f"{name:<10} {med[name]['tps']:>9.0f} {med[name]['cpu_us_per_op']:>17.2f}")
    print(f"{'ratio':<10} {med['cairn']['tps'] / med['memcached']['tps']:>9.2f} "
          f"{med['cairn']['cpu_us_per_op'] / med['memcached']['cpu_us_per_op']:>17.2f}")


if __name__ == "__main__":
    sys.exit(main())
