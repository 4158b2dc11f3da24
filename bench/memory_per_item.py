#!/usr/bin/env python3
"""Bytes of resident memory per item: Cairn against memcached, same items, same run.

Starts each server on a free loopback port, reads its RSS from /proc, loads N items of a fixed value
size with pipelined noreply sets, checks a sample reads back, and reads RSS again.
Usage: memory_per_item.py [--items 1000000] [--value-size 100] [--cairn PATH] [--memcached PATH] [--cairn-memory-mb 4096]
"""
import argparse, os, shutil, socket, subprocess, sys, tempfile, time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def connect(port, deadline=20.0):
    end = time.time() + deadline
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.1)


def roundtrip(sock, request, terminator=b"END\r\n"):
    sock.sendall(request)
    data = b""
    while not data.endswith(terminator):
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed")
        data += chunk
    return data


def load(port, items, value_size):
    value = b"v" * value_size
    sock = connect(port)
    batch = []
    for i in range(items):
        key = b"key:%010d" % i
        batch.append(b"set %s 0 0 %d noreply\r\n%s\r\n" % (key, value_size, value))
        if len(batch) == 2000:
            sock.sendall(b"".join(batch))
            batch.clear()
    if batch:
        sock.sendall(b"".join(batch))
    # A get at the end is answered only after every set before it on this connection.
    for i in (0, items // 2, items - 1):
        reply = roundtrip(sock, b"get key:%010d\r\n" % i)
        if value not in reply:
            raise RuntimeError(f"item {i} missing after load: {reply[:80]!r}")
    stats = roundtrip(sock, b"stats\r\n")
    curr = [l for l in stats.split(b"\r\n") if l.startswith(b"STAT curr_items ")]
    sock.close()
    return int(curr[0].split()[2])


def measure(name, argv, port, items, value_size):
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connect(port).close()
        time.sleep(0.5)
        before = rss_bytes(proc.pid)
        start = time.time()
        count = load(port, items, value_size)
        elapsed = time.time() - start
        time.sleep(1.0)
        after = rss_bytes(proc.pid)
        return {"name": name, "items": count, "rss_before": before, "rss_after": after,
                "per_item": (after - before) / max(count, 1), "load_seconds": elapsed}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--value-size", type=int, default=100)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--cairn", default=os.path.join(root, "src/Cairn.Server/bin/Release/net10.0/cairn-server"))
    parser.add_argument("--memcached", default="/usr/bin/memcached")
    parser.add_argument("--cairn-memory-mb", type=int, default=4096,
                        help="Cairn's -m; below the data's size the rest of the values stay on disk only (memcached keeps -m 4096)")
    args = parser.parse_args()

    results = []
    port = free_port()
    data = tempfile.mkdtemp(prefix="cairn-memory-")
    try:
        # The log is on disk, not in the process: RSS counts the items in memory either way.
        results.append(measure("cairn", [args.cairn, "-p", str(port), "-m", str(args.cairn_memory_mb), "--data-dir", data], port, args.items, args.value_size))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    if os.path.exists(args.memcached):
        port = free_port()
        results.append(measure("memcached", [args.memcached, "-u", "root", "-U", "0", "-l", "127.0.0.1",
                                             "-p", str(port), "-m", "4096"], port, args.items, args.value_size))

    print(f"{'server':<10} {'items':>9} {'RSS before':>12} {'RSS after':>12} {'bytes/item':>11} {'load s':>7}")
    for r in results:
        print(f"{r['name']:<10} {r['items']:>9} {r['rss_before'] / 2**20:>10.1f}Mi {r['rss_after'] / 2**20:>10.1f}Mi "
              f"{r['per_item']:>11.1f} {r['load_seconds']:>7.2f}")
    if len(results) == 2:
        print(f"cairn/memcached bytes per item: {results[0]['per_item'] / results[1]['per_item']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
