#!/usr/bin/python3
"""`cairn reshard` from three nodes to four while a writer keeps writing, and what it cost.

Four cairn-server processes (Release build, CPU 0). pylibmc (libmemcached's ketama_weighted, the placement of
nutcracker's `hash: md5`) loads N items of 100 bytes over the first three. A writer, pylibmc over all four (the
clients were switched first, as the README says to), keeps overwriting random keys and remembers every value a
server acknowledged. `cairn reshard --from 3 nodes --to 4 nodes` runs on CPU 1 with the writer. Afterwards every
key is read through the four-node list: it must hold the writer's last acknowledged value, or the loaded one.
Prints the reshard's time, the items it moved (a quarter is expected), the writer's acknowledged writes, and
keys lost or wrong (must be 0). Usage (Debian's python3-pylibmc): /usr/bin/python3 bench/reshard.py [--items 1000000]
"""
import argparse, multiprocessing, os, re, shutil, subprocess, sys, tempfile, time

import pylibmc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durability import CAIRN_CLI, Server  # noqa: E402

VALUE = b"v" * 96


def client(ports, **behaviors):
    return pylibmc.Client([f"127.0.0.1:{p}" for p in ports], behaviors={"ketama_weighted": True, "tcp_nodelay": True, **behaviors})


def writer(ports, items, stop, results):
    os.sched_setaffinity(0, {1})
    c, acked, n = client(ports), {}, 0
    while not stop.is_set():
        batch = {f"key:{(n * 7919 + i * 104729) % items}": b"w%09d" % (n + i) + VALUE for i in range(50)}
        n += 50
        try:
            failed = c.set_multi(batch)
        except pylibmc.Error:
            continue
        for key, value in batch.items():
            if key not in failed:
                acked[key] = value
    results.put(acked)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cairn-reshard-bench-")
    nodes = []
    try:
        for i in range(4):
            nodes.append(Server(["--fsync", "everysec"], os.path.join(work, f"n{i}")))
        ports = [n.port for n in nodes]
        # libmemcached's set_multi waits for each reply in turn; noreply pipelines, and a read-back checks the load.
        loader, checker = client(ports[:3], _noreply=True), client(ports[:3])
        started = time.time()
        for start in range(0, args.items, 1000):
            batch = {f"key:{i}": b"o%09d" % i + VALUE for i in range(start, min(start + 1000, args.items))}
            loader.set_multi(batch)
            for _ in range(100):
                if len(checker.get_multi(list(batch))) == len(batch):
                    break
                time.sleep(0.01)
            else:
                raise SystemExit("load incomplete")
        print(f"loaded {args.items:,} items over 3 nodes in {time.time() - started:.1f} s")

        stop, results = multiprocessing.Event(), multiprocessing.Queue()
        proc = multiprocessing.Process(target=writer, args=(ports, args.items, stop, results))
        proc.start()
        time.sleep(1)
        listing = lambda ps: ",".join(f"127.0.0.1:{p}" for p in ps)
        started = time.time()
        run = subprocess.run(["taskset", "-c", "1", CAIRN_CLI, "reshard", "--from", listing(ports[:3]), "--to", listing(ports)],
                             capture_output=True, text=True, timeout=3600)
        elapsed = time.time() - started
        time.sleep(1)
        stop.set()
        acked = results.get(timeout=600)
        proc.join()
        print(run.stdout.strip())
        if run.returncode != 0:
            print(run.stderr.strip())
        moved = int(re.search(r"^moved ([\d,]+)", run.stdout, re.M).group(1).replace(",", ""))

        reader, lost, wrong = client(ports), 0, 0
        for start in range(0, args.items, 1000):
            keys = [f"key:{i}" for i in range(start, min(start + 1000, args.items))]
            got = reader.get_multi(keys)
            for key in keys:
                expected = acked.get(key, b"o%09d" % int(key[4:]) + VALUE)
                if key not in got:
                    lost += 1
                elif got[key] != expected:
                    wrong += 1
        print(f"reshard: exit {run.returncode}, {elapsed:.1f} s, moved {moved:,} of {args.items:,} items ({100 * moved / args.items:.1f} %), "
              f"{moved / elapsed:,.0f} items/s")
        print(f"writer: {len(acked):,} distinct keys acknowledged during the run; lost {lost}, wrong value {wrong}")
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
