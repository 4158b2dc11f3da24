#!/usr/bin/env python3
"""Online backup and restore of N items (100-byte values): `cairn backup` from a serving cairn-server (CPU 0; the
CLI on CPU 1), `cairn restore` into a new data directory, `cairn verify` of it, and the restored server's start.
Prints each step's seconds and checks the restored server holds N items.
Usage: python3 bench/backup_restore.py [--items 1000000]
"""
import argparse, os, re, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durability import CAIRN_CLI, Server  # noqa: E402


def timed(argv):
    started = time.time()
    run = subprocess.run(["taskset", "-c", "1", CAIRN_CLI] + argv, capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {run.returncode}: {run.stderr.strip()}")
    return time.time() - started, run.stdout.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cairn-backup-bench-")
    try:
        source = Server([], os.path.join(work, "source"))
        with socket.create_connection(("127.0.0.1", source.port)) as s:
            for start in range(0, args.items, 10000):
                s.sendall(b"".join(b"set key:%08d 0 0 100 noreply\r\n%s\r\n" % (i, b"x" * 100) for i in range(start, min(start + 10000, args.items))))
            s.sendall(b"mn\r\n")
            reply = b""
            while not reply.endswith(b"MN\r\n"):
                reply += s.recv(64)
        backup, restored = os.path.join(work, "backup"), os.path.join(work, "restored")
        seconds, out = timed(["--server", f"127.0.0.1:{source.port}", "backup", backup])
        mib = float(re.search(r"\(([\d.]+) MiB\)", out).group(1))
        print(f"backup:  {seconds:.1f} s for {args.items:,} items ({mib:.0f} MiB, {mib / seconds:.0f} MiB/s) while the server serves")
        source.stop()
        seconds, _ = timed(["restore", backup, "--data-dir", restored])
        print(f"restore: {seconds:.1f} s (every record's CRC and the SHA-256 checked, then the snapshot segment written)")
        seconds, out = timed(["verify", "--data-dir", restored])
        print(f"verify:  {seconds:.1f} s: {out.splitlines()[-1]}")
        started = time.time()
        again = Server([], restored)
        print(f"start:   {time.time() - started:.1f} s until the restored server answered")
        stats = again.command("stats\r\n")
        items = int(re.search(r"STAT curr_items (\d+)", stats).group(1))
        print(f"restored server holds {items:,} items (expected {args.items:,})")
        again.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
