#!/usr/bin/env bash
# Runs libmemcached's memccapable ASCII-protocol checks against HOST PORT.
# WARNING: memccapable FLUSHES the server.
# Usage: memccapable.sh HOST PORT [TIMEOUT_SECONDS]
# Needs Debian's libmemcached-tools (apt-get install libmemcached-tools).
# Exit status: 0 only if memccapable exits 0 AND prints "All tests passed".
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 HOST PORT [TIMEOUT_SECONDS]" >&2
    exit 2
fi
HOST=$1
PORT=$2
IO_TIMEOUT=${3:-5}
BIN=$(command -v memccapable || command -v memcapable || true)
if [ -z "$BIN" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "memccapable.sh: installing libmemcached-tools" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmemcached-tools >&2 ||
        { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmemcached-tools >&2; }
    BIN=$(command -v memccapable || command -v memcapable || true)
fi
if [ -z "$BIN" ]; then
    echo "memccapable not found (apt-get install libmemcached-tools)" >&2
    exit 2
fi
# -a: ascii protocol only; -t: per-I/O timeout in seconds.
# The whole run is bounded so a hung server cannot stall CI.
OUT=$(timeout 300 "$BIN" -a -t "$IO_TIMEOUT" -h "$HOST" -p "$PORT" 2>&1)
RC=$?
printf '%s\n' "$OUT"
PASSED=$(printf '%s\n' "$OUT" | grep -c '\[pass\]')
FAILED=$(printf '%s\n' "$OUT" | grep -c '\[FAIL\]')
if [ "$RC" -ne 0 ] || ! printf '%s\n' "$OUT" | grep -q '^All tests passed'; then
    [ "$RC" -eq 0 ] && RC=1
    echo "memccapable: FAILED (exit status $RC)"
    echo "memccapable: $PASSED passed, $((FAILED > 0 ? FAILED : 1)) failed"
    exit "$RC"
fi
echo "memccapable: $PASSED passed, 0 failed"
exit 0
