#!/usr/bin/env python3
"""What writes acknowledged on N machines cost: set throughput and latency for one node alone, and for a primary
with two replicas at --sync-replicas 0, 1 and 2, under --fsync everysec and always. Three nodes on this machine:
the primary on CPU 0, both replicas and the load generator (`cairn bench`, 50 connections of 100-byte sets) on
CPU 1; configurations interleaved forward then backward, means of the runs. With --sync-replicas 0 it also samples
the replicas' lag (records behind the primary) every 50 ms. Ratios are against the single node in the same run.
Usage: sync_replicas.py [--seconds 10] [--modes everysec,always]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durability import Server, loadgen  # noqa: E402


def start(args, data, cpu):
    server = Server(args, data)
    # Server pins to CPU 0; replicas move to CPU 1 with the load generator.
    if cpu != 0:
        subprocess.run(["taskset", "-a", "-p", "-c", str(cpu), str(server.proc.pid)], capture_output=True, check=True)
    return server


def replication_stats(server):
    out = server.command("stats replication\r\n")
    return dict(l.split(" ", 2)[1:] for l in out.split("\r\n") if l.startswith("STAT "))


def run(config, fsync, seconds):
    work = tempfile.mkdtemp(prefix="cairn-sync-bench-")
    nodes = []
    try:
        sync = config["sync"]
        primary_args = ["--fsync", fsync] + (["--sync-replicas", str(sync), "--sync-timeout", "5000"] if sync else [])
        primary = start(primary_args, os.path.join(work, "p"), 0)
        nodes.append(primary)
        for i in range(config["replicas"]):
            nodes.append(start(["--fsync", fsync, "--replica-of", f"127.0.0.1:{primary.port}"], os.path.join(work, f"r{i}"), 1))
        deadline = time.time() + 30
        while config["replicas"] and int(replication_stats(primary).get("connected_replicas", "0")) < config["replicas"]:
            if time.time() > deadline:
                raise SystemExit("replicas did not connect")
            time.sleep(0.05)
        time.sleep(0.5)

        lags, stop = [], threading.Event()

        def sample():
            while not stop.is_set():
                last = int(replication_stats(primary)["log_last_sequence"])
                for replica in nodes[1:]:
                    lags.append(max(0, last - int(replication_stats(replica).get("applied_sequence", "0"))))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        if config["replicas"] and not sync:
            sampler.start()
        result = loadgen(primary.port, seconds, ["--connections", "50", "--ratio", "1:0", "--value-size", "100", "--keys", "100000"])
        stop.set()
        if sampler.is_alive():
            sampler.join()
        stats = replication_stats(primary)
        result["unconfirmed"] = int(stats.get("sync_unconfirmed_batches", "0"))
        result["lags"] = lags
        return result
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--modes", default="everysec,always")
    args = ap.parse_args()
    configs = [
        {"name": "one node", "replicas": 0, "sync": 0},
        {"name": "--sync-replicas 0", "replicas": 2, "sync": 0},
        {"name": "--sync-replicas 1", "replicas": 2, "sync": 1},
        {"name": "--sync-replicas 2", "replicas": 2, "sync": 2},
    ]
    for fsync in args.modes.split(","):
        runs = {c["name"]: [] for c in configs}
        for order in (configs, list(reversed(configs))):
            for config in order:
                result = run(config, fsync, args.seconds)
                runs[config["name"]].append(result)
                print(f"  {fsync:<8} {config['name']:<18} {result['ops_per_second']:>8.0f} sets/s p99 {result['p99_us']:>7.0f} us", flush=True)

        mean = lambda rs, k: sum(r[k] for r in rs) / len(rs)
        base = mean(runs["one node"], "ops_per_second")
        print(f"\n--fsync {fsync}: sets, 50 connections, 100-byte values, {args.seconds} s x 2 runs per configuration (means)")
        print("| configuration | sets/s | vs one node | p50 us | p99 us | p99.9 us | unconfirmed batches |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for config in configs:
            rs = runs[config["name"]]
            print(f"| {config['name']} | {mean(rs, 'ops_per_second'):,.0f} | {mean(rs, 'ops_per_second') / base:.2f} | {mean(rs, 'p50_us'):.0f} | "
                  f"{mean(rs, 'p99_us'):.0f} | {mean(rs, 'p999_us'):.0f} | {sum(r['unconfirmed'] for r in rs)} |")
        lags = sorted(l for r in runs["--sync-replicas 0"] for l in r["lags"])
        if lags:
            print(f"replica lag at --sync-replicas 0, records behind the primary sampled every 50 ms: median {statistics.median(lags):.0f}, "
                  f"p99 {lags[int(len(lags) * 0.99) - 1]}, max {lags[-1]} ({len(lags)} samples)\n", flush=True)


if __name__ == "__main__":
    main()
