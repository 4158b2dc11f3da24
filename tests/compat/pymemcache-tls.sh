#!/usr/bin/env bash
# Runs every integration test that Debian's python3-pymemcache ships
# (pymemcache/test/test_integration.py, marker "integration"), test_tls included:
# the plain ones against HOST PORT, test_tls against TLS_HOST TLS_PORT.
# The suite's tls_context verifies the server (hostname included) against
# certs/ca-root.crt next to its conftest.py, a file Debian does not ship: the
# test files are copied into a temporary directory with CA_FILE put there, so
# the server's certificate must chain to CA_FILE and name TLS_HOST.
# WARNING: the tests call flush_all on the server.
# Usage: pymemcache-tls.sh HOST PORT TLS_HOST TLS_PORT CA_FILE [extra pytest args...]
# Needs python3-pymemcache python3-pytest python3-future python3-six (see pymemcache.sh).
# Exit status: pytest's (0 = all selected tests passed; 5 = none ran counts as failure).
set -u
if [ $# -lt 5 ]; then
    echo "usage: $0 HOST PORT TLS_HOST TLS_PORT CA_FILE [extra pytest args...]" >&2
    exit 2
fi
HOST=$1
PORT=$2
TLS_HOST=$3
TLS_PORT=$4
CA_FILE=$5
shift 5
PY=/usr/bin/python3

if ! "$PY" -c 'import pytest, pymemcache, six, future' >/dev/null 2>&1; then
    echo "pymemcache-tls.sh: need python3-pytest python3-pymemcache python3-future python3-six (tests/compat/pymemcache.sh installs them as root)" >&2
    exit 2
fi
if [ ! -r "$CA_FILE" ]; then
    echo "pymemcache-tls.sh: cannot read CA file $CA_FILE" >&2
    exit 2
fi

TESTDIR=$("$PY" -c 'import os, pymemcache; print(os.path.join(os.path.dirname(pymemcache.__file__), "test"))')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cairn-pymemcache-tls.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/certs" &&
    cp "$TESTDIR/conftest.py" "$TESTDIR/test_integration.py" "$WORK/" &&
    cp "$CA_FILE" "$WORK/certs/ca-root.crt" || exit 2

# No -k: test_tls runs along with the rest.  The suite has no timeouts of its own: bound it.
cd "$WORK" || exit 2
PYTHONDONTWRITEBYTECODE=1 timeout 600 "$PY" -m pytest \
    -p no:cacheprovider \
    -W ignore::pytest.PytestUnknownMarkWarning \
    -m integration \
    -rfEs \
    --server "$HOST" --port "$PORT" \
    --tls-server "$TLS_HOST" --tls-port "$TLS_PORT" \
    test_integration.py "$@"
RC=$?
if [ "$RC" -eq 5 ]; then
    echo "pymemcache-tls.sh: pytest collected no tests" >&2
fi
exit "$RC"
