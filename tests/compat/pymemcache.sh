#!/usr/bin/env bash
# Runs the integration tests that Debian's python3-pymemcache ships
# (pymemcache/test/test_integration.py, marker "integration", minus the TLS
# test) against HOST PORT with /usr/bin/python3 -m pytest.
# WARNING: the tests call flush_all on the server.
# Usage: pymemcache.sh HOST PORT [extra pytest args...]
# Needs Debian packages python3-pymemcache python3-pytest python3-future
# (test_integration.py imports future's "builtins"); when one is missing and
# we are root, they are installed with apt-get.
# Exit status: pytest's (0 = all selected tests passed; 5 = none ran counts as failure).
set -u
if [ $# -lt 2 ]; then
    echo "usage: $0 HOST PORT [extra pytest args...]" >&2
    exit 2
fi
HOST=$1
PORT=$2
shift 2
PY=/usr/bin/python3

have_deps() {
    "$PY" -c 'import pytest, pymemcache, six, future' >/dev/null 2>&1
}
if ! have_deps; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "pymemcache.sh: installing python3-pytest python3-pymemcache python3-future python3-six" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest python3-pymemcache python3-future python3-six >&2 ||
            { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pytest python3-pymemcache python3-future python3-six >&2; }
    fi
    if ! have_deps; then
        echo "pymemcache.sh: need python3-pytest python3-pymemcache python3-future python3-six (apt-get install ...)" >&2
        exit 2
    fi
fi

TESTDIR=$("$PY" -c 'import os, pymemcache; print(os.path.join(os.path.dirname(pymemcache.__file__), "test"))')
TESTFILE="$TESTDIR/test_integration.py"
if [ ! -f "$TESTFILE" ]; then
    echo "pymemcache.sh: $TESTFILE not found" >&2
    exit 2
fi

# conftest.py in $TESTDIR defines --server/--port (and --tls-server/--tls-port,
# unused here).  -p no:cacheprovider and PYTHONDONTWRITEBYTECODE keep pytest
# from writing into /usr/lib.  The suite has no timeouts of its own: bound it.
cd "$TESTDIR" || exit 2
PYTHONDONTWRITEBYTECODE=1 timeout 600 "$PY" -m pytest \
    -p no:cacheprovider \
    -W ignore::pytest.PytestUnknownMarkWarning \
    -m integration -k 'not test_tls' \
    -rfEs \
    --server "$HOST" --port "$PORT" \
    "$TESTFILE" "$@"
RC=$?
if [ "$RC" -eq 5 ]; then
    echo "pymemcache.sh: pytest collected no tests" >&2
fi
exit "$RC"
