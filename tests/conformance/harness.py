"""Shared helpers for record.py and compare.py (standard library only).

A case is cases/NAME.in (bytes the client sends, all in one go) and
cases/NAME.out (bytes memcached 1.6.18 sent back).  closes.txt lists the
cases after which memcached closed the connection by itself.
"""

import os
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
CLOSES_FILE = os.path.join(HERE, "closes.txt")

# Cases whose name starts with this prefix are run against a server whose
# maximum item size is 1024 bytes (memcached: -I 1k).
LARGE_PREFIX = "large_"
# memcached refuses "-I 1k" unless slab_chunk_max is lowered as well.
MEMCACHED_LARGE_ARGS = "-I 1k -o slab_chunk_max=512"


def is_large(name):
    return name.startswith(LARGE_PREFIX)


def list_cases(selected=None):
    names = sorted(f[:-3] for f in os.listdir(CASES_DIR) if f.endswith(".in"))
    if selected:
        missing = [n for n in selected if n not in names]
        if missing:
            sys.exit("unknown case(s): " + ", ".join(missing))
        names = [n for n in names if n in selected]
    return names


def read_case_in(name):
    with open(os.path.join(CASES_DIR, name + ".in"), "rb") as f:
        return f.read()


def read_case_out(name):
    with open(os.path.join(CASES_DIR, name + ".out"), "rb") as f:
        return f.read()


def read_closes():
    try:
        with open(CLOSES_FILE) as f:
            return set(l.strip() for l in f if l.strip() and not l.startswith("#"))
    except FileNotFoundError:
        return set()


def write_closes(names):
    with open(CLOSES_FILE, "w") as f:
        f.write("# cases after which memcached 1.6.18 closed the connection itself\n")
        for n in sorted(names):
            f.write(n + "\n")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


_dying = []  # (time SIGTERM was sent, Popen) of servers not yet exited


def reap(block=True, grace=5.0):
    """Collect stopped servers; SIGKILL any still running `grace` s after SIGTERM.
    With block=True wait for all of them."""
    global _dying
    left = []
    for t, p in _dying:
        if p.poll() is not None:
            continue
        if block:
            try:
                p.wait(timeout=max(0.0, t + grace - time.monotonic()))
                continue
            except subprocess.TimeoutExpired:
                pass
        if time.monotonic() - t >= grace:
            p.kill()
            p.wait()
            continue
        left.append((t, p))
    _dying = left


class Server:
    """Starts a server command line on a free loopback port, stops it by PID."""

    def __init__(self, cmd_template, startup_timeout=15.0):
        self.cmd_template = cmd_template
        self.startup_timeout = startup_timeout
        self.proc = None
        self.port = None
        self.log = None

    def start(self, extra=""):
        last_err = None
        for _attempt in range(5):
            self.port = free_port()
            cmd = self.cmd_template.replace("{port}", str(self.port))
            cmd = cmd.replace("{extra}", extra)
            self.log = tempfile.TemporaryFile()
            self.proc = subprocess.Popen(
                shlex.split(cmd), stdin=subprocess.DEVNULL,
                stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True)
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return self
                except OSError:
                    time.sleep(0.02)
            last_err = self._output()
            self.stop()
        raise RuntimeError("server did not start: %r\n%s" % (self.cmd_template, last_err))

    def _output(self):
        try:
            self.log.seek(0)
            return self.log.read().decode("utf-8", "replace")
        except Exception:
            return ""

    def stop(self):
        """SIGTERM the server; it is reaped later by reap() (memcached takes
        ~0.7 s to exit, no need to wait for it before the next case)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            _dying.append((time.monotonic(), self.proc))
        self.proc = None
        reap(block=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def exchange(port, data, quiet_ms=300, expect_len=None, patience_ms=3000, max_total_s=20.0):
    """Send data at once; collect the reply.

    Returns (reply_bytes, closed_by_server).
    Stops when the server closes the connection, or when it has been quiet
    for quiet_ms.  If expect_len is given, a quiet period before expect_len
    bytes have arrived is extended up to patience_ms (slow-starting servers).
    """
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    closed = False
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        start = time.monotonic()
        last = time.monotonic()
        while not closed and time.monotonic() - start < max_total_s:
            limit = quiet_ms
            if expect_len is not None and len(buf) < expect_len:
                limit = max(quiet_ms, patience_ms)
            remaining = limit / 1000.0 - (time.monotonic() - last)
            if remaining <= 0:
                break
            r, _, _ = select.select([s], [], [], remaining)
            if not r:
                continue
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
            last = time.monotonic()
    finally:
        s.close()
    return bytes(buf), closed
