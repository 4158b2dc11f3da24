#!/usr/bin/python3
"""Record the conformance corpus from a real memcached.

For every case (or only the named ones) a FRESH memcached is started on a free
loopback port, cases/NAME.in is sent in one go, and everything memcached sends
back until it has been quiet for --quiet-ms (or closes the connection) is
written to cases/NAME.out.  Cases after which memcached closed the connection
are listed in closes.txt.

Usage: record.py [--memcached PATH] [--quiet-ms N] [case-name ...]
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memcached", default="/usr/bin/memcached")
    ap.add_argument("--quiet-ms", type=int, default=300)
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()

    cmd = "%s -u root -U 0 -l 127.0.0.1 -p {port} {extra}" % args.memcached
    names = harness.list_cases(args.cases)
    closes = harness.read_closes()
    for name in names:
        data = harness.read_case_in(name)
        extra = harness.MEMCACHED_LARGE_ARGS if harness.is_large(name) else ""
        with harness.Server(cmd) as srv:
            srv.start(extra)
            reply, closed = harness.exchange(srv.port, data, quiet_ms=args.quiet_ms)
        with open(os.path.join(harness.CASES_DIR, name + ".out"), "wb") as f:
            f.write(reply)
        closes.discard(name)
        if closed:
            closes.add(name)
        print("%-60s %5d bytes%s" % (name, len(reply), "  (closed)" if closed else ""))
    harness.write_closes(closes)


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.reap()
