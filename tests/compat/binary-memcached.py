#!/usr/bin/python3
"""Debian's python3-binary-memcached (bmemcached) against a server: plain, or with SASL PLAIN.

Usage: binary-memcached.py HOST PORT [USER PASSWORD [WRONG_PASSWORD]]
Runs with /usr/bin/python3 (Debian's Python packages are not visible to other builds); prints one line per
check and ends with "N passed, N failed"; exits non-zero on any failure.
"""
import sys

import bmemcached

host, port = sys.argv[1], sys.argv[2]
user = sys.argv[3] if len(sys.argv) > 3 else None
password = sys.argv[4] if len(sys.argv) > 4 else None
wrong = sys.argv[5] if len(sys.argv) > 5 else None
server = f"{host}:{port}"
results = []


def check(name, condition):
    results.append(bool(condition))
    print(("PASS " if condition else "FAIL ") + name, flush=True)


client = bmemcached.Client((server,), user, password)
check("set", client.set("bm:key", "value"))
check("get", client.get("bm:key") == "value")
check("add existing refused", not client.add("bm:key", "other"))
check("add new", client.add("bm:new", "fresh"))
check("replace", client.replace("bm:key", "replaced") and client.get("bm:key") == "replaced")
check("get_multi", client.get_multi(["bm:key", "bm:new", "bm:missing"]) == {"bm:key": "replaced", "bm:new": "fresh"})
client.set("bm:counter", 10)
check("incr", client.incr("bm:counter", 5) == 15)
check("decr", client.decr("bm:counter", 20) == 0)
value, cas = client.gets("bm:key")
check("gets", value == "replaced" and cas)
check("cas with the right token", client.cas("bm:key", "swapped", cas))
check("cas with a stale token refused", not client.cas("bm:key", "again", cas))
check("delete", client.delete("bm:new") and client.get("bm:new") is None)
big = "x" * 500_000
check("500 KB value", client.set("bm:big", big) and client.get("bm:big") == big)
stats = client.stats()
check("stats", all("curr_items" in s for s in stats.values()))
check("version", all(v.startswith("1.6") for v in client.get_server_versions().values()) if hasattr(client, "get_server_versions") else True)

if user is not None and wrong is not None:
    try:
        bad = bmemcached.Client((server,), user, wrong)
        bad.get("bm:key")
        check("wrong password refused", False)
    except bmemcached.exceptions.MemcachedException as error:
        check("wrong password refused", "Auth failure" in str(error))

passed = sum(results)
failed = len(results) - passed
print(f"{passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
