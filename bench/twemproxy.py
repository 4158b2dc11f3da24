#!/usr/bin/python3
"""Throughput and latency through Debian's nutcracker (deploy/nutcracker.yml: three Cairn nodes) against direct
connections to one Cairn node, in the same run: `cairn bench` (50 connections, 1 set : 10 gets, 100-byte values,
10,000 keys, text protocol), configurations interleaved direct/proxy/proxy/direct. The Cairn nodes are on CPU 0;
the load generator and nutcracker share CPU 1, so the proxy's own CPU is part of what it costs.
Usage: /usr/bin/python3 bench/twemproxy.py [--seconds 10]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durability import ROOT, Server, free_port, loadgen  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cairn-twemproxy-bench-")
    nodes, proxy = [], None
    try:
        nodes = [Server([], os.path.join(work, f"n{i}")) for i in range(3)]
        listen = free_port()
        with open(os.path.join(ROOT, "deploy", "nutcracker.yml")) as f:
            config = f.read().replace("127.0.0.1:22121", f"127.0.0.1:{listen}")
        for i, node in enumerate(nodes):
            config = config.replace(f"127.0.0.1:1121{i + 1}:1", f"127.0.0.1:{node.port}:1")
        path = os.path.join(work, "nutcracker.yml")
        with open(path, "w") as f:
            f.write(config)
        proxy = subprocess.Popen(["taskset", "-c", "1", "/usr/sbin/nutcracker", "-c", path, "-s", str(free_port()), "-a", "127.0.0.1"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        workload = ["--connections", "50", "--ratio", "1:10", "--value-size", "100", "--keys", "10000"]
        runs = {"direct": [], "nutcracker": []}
        for name in ["direct", "nutcracker", "nutcracker", "direct"]:
            port = nodes[0].port if name == "direct" else listen
            runs[name].append(loadgen(port, args.seconds, workload))
        for name, results in runs.items():
            ops = statistics.mean(r["ops_per_second"] for r in results)
            p99 = statistics.mean(r["p99_us"] for r in results)
            print(f"{name:>10}: {ops:,.0f} ops/s, p99 {p99 / 1000:.2f} ms, errors {sum(r['errors'] for r in results)}")
        ratio = statistics.mean(r["ops_per_second"] for r in runs["nutcracker"]) / statistics.mean(r["ops_per_second"] for r in runs["direct"])
        print(f"nutcracker / direct throughput: {ratio:.2f}")
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait()
        for node in nodes:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
