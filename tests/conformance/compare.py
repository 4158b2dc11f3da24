#!/usr/bin/python3
"""Replay the conformance corpus against a server and compare byte by byte.

For every case a FRESH server is started from --server-cmd, in which {port}
is replaced by a free loopback port and {extra} by --large-args for cases
whose name starts with "large_" (and by nothing for the others).  If the
command has no {extra}, large_ cases are skipped.  cases/NAME.in is sent in
one go and the reply is compared with cases/NAME.out; for cases listed in
closes.txt the server must also close the connection, for the others it must
not.

Examples:
  compare.py --server-cmd '/usr/bin/memcached -u root -U 0 -l 127.0.0.1 -p {port} {extra}'
  compare.py --server-cmd 'dotnet src/Cairn/bin/Release/net9.0/Cairn.dll --port {port} {extra}' \\
             --large-args '--max-item-size 1024'
  compare.py --server-cmd '...' incr_wraps_at_2_pow_64 get_missing_key

Prints PASS/FAIL/SKIP per case, a readable diff for failures, and a closing
"N passed, N failed" line (", N skipped" when some were skipped).  Exit
status is 1 when any case failed.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def esc(b):
    """Printable form of bytes: \\r \\n \\t \\xNN visible."""
    out = []
    for c in b:
        if c == 0x0D:
            out.append("\\r")
        elif c == 0x0A:
            out.append("\\n")
        elif c == 0x09:
            out.append("\\t")
        elif c == 0x5C:
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\x%02x" % c)
    return "".join(out)


def lines_of(b):
    """Split keeping the terminators, so \\r\\n vs \\n differences show."""
    res, start = [], 0
    while True:
        i = b.find(b"\n", start)
        if i < 0:
            if start < len(b):
                res.append(b[start:])
            return res
        res.append(b[start:i + 1])
        start = i + 1


def describe_diff(expected, got, context_lines=3, max_len=4000):
    n = 0
    while n < len(expected) and n < len(got) and expected[n] == got[n]:
        n += 1
    line_no = expected[:n].count(b"\n") + 1
    out = ["    first difference at byte %d (reply line %d); expected %d bytes, got %d bytes"
           % (n, line_no, len(expected), len(got))]
    el, gl = lines_of(expected), lines_of(got)
    lo = max(0, line_no - 1 - context_lines)
    hi = line_no - 1 + context_lines + 1
    out.append("    expected:")
    for i in range(lo, min(hi, len(el))):
        mark = ">" if i == line_no - 1 else " "
        out.append("     %s %3d| %s" % (mark, i + 1, esc(el[i])[:max_len]))
    if line_no - 1 >= len(el):
        out.append("     > %3d| <end of reply>" % (len(el) + 1))
    out.append("    got:")
    for i in range(lo, min(hi, len(gl))):
        mark = ">" if i == line_no - 1 else " "
        out.append("     %s %3d| %s" % (mark, i + 1, esc(gl[i])[:max_len]))
    if line_no - 1 >= len(gl):
        out.append("     > %3d| <end of reply>" % (len(gl) + 1))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server-cmd", required=True,
                    help="command line; {port} and optional {extra} are substituted")
    ap.add_argument("--large-args", default=harness.MEMCACHED_LARGE_ARGS,
                    help="what {extra} becomes for large_ cases (max item size 1024 bytes); "
                         "default: %(default)r (memcached's flags)")
    ap.add_argument("--quiet-ms", type=int, default=300,
                    help="reply is complete after this much silence (default 300)")
    ap.add_argument("--patience-ms", type=int, default=3000,
                    help="silence tolerated while the reply is still shorter than expected")
    ap.add_argument("--startup-timeout", type=float, default=15.0)
    ap.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()

    names = harness.list_cases(args.cases)
    closes = harness.read_closes()
    has_extra = "{extra}" in args.server_cmd
    passed = failed = skipped = 0
    failed_names = []
    for name in names:
        if harness.is_large(name) and not has_extra:
            skipped += 1
            if not args.quiet:
                print("SKIP %s (no {extra} in --server-cmd for the 1 KiB item limit)" % name)
            continue
        data = harness.read_case_in(name)
        expected = harness.read_case_out(name)
        expect_close = name in closes
        extra = args.large_args if harness.is_large(name) else ""
        try:
            with harness.Server(args.server_cmd, args.startup_timeout) as srv:
                srv.start(extra)
                got, closed = harness.exchange(srv.port, data, quiet_ms=args.quiet_ms,
                                               expect_len=len(expected),
                                               patience_ms=args.patience_ms)
        except Exception as e:  # server failed to start, connect refused, ...
            failed += 1
            failed_names.append(name)
            print("FAIL %s\n    %s" % (name, str(e).replace("\n", "\n    ")))
            continue
        problems = []
        if got != expected:
            problems.append(describe_diff(expected, got))
        if expect_close and not closed:
            problems.append("    memcached closes the connection here; this server kept it open")
        if closed and not expect_close:
            problems.append("    this server closed the connection; memcached keeps it open")
        if problems:
            failed += 1
            failed_names.append(name)
            print("FAIL %s" % name)
            print("    sent: %s" % esc(data)[:600])
            print("\n".join(problems))
        else:
            passed += 1
            if not args.quiet:
                print("PASS %s" % name)
    if failed_names:
        print("failed: " + " ".join(failed_names))
    summary = "%d passed, %d failed" % (passed, failed)
    if skipped:
        summary += ", %d skipped" % skipped
    print(summary)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.reap()
