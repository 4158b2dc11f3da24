#!/usr/bin/python3
"""Writes cases/NAME.in for every case defined below.

The .in files are the corpus; this script is only how they were written, so a
case can be read (and changed) as Python bytes.  After changing or adding a
case, re-run `./make_cases.py` and then `./record.py NAME ...` to record its
.out from memcached.  Names starting with "large_" run with a 1 KiB item
size limit.  Usage: make_cases.py [--check]   (--check: only report .in files
that differ from this script; exit 1 if any)
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {}


def case(name, *parts):
    assert name not in CASES, name
    CASES[name] = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)


def L(*lines):
    """Lines joined with CRLF, each terminated."""
    return b"".join((l if isinstance(l, bytes) else l.encode()) + b"\r\n" for l in lines)


K250 = b"k" * 249 + b"X"
K251 = b"k" * 250 + b"Y"
U64MAX = "18446744073709551615"

# ---------------------------------------------------------------- storage
case("set_then_get", L("set k 0 0 5", "hello", "get k"))
case("set_flags_roundtrip", L("set k 123 0 3", "abc", "get k"))
case("set_overwrites_value_and_flags", L("set k 1 0 3", "abc", "set k 2 0 5", "defgh", "get k"))
case("add_new_then_existing", L("add k 0 0 1", "a", "add k 5 0 1", "b", "get k"))
case("replace_missing_key_not_stored", L("replace k 0 0 1", "a", "get k"))
case("replace_existing_key_stored", L("set k 0 0 1", "a", "replace k 7 0 2", "bc", "get k"))
case("append_existing", L("set k 0 0 3", "abc", "append k 0 0 3", "def", "get k"))
case("prepend_existing", L("set k 0 0 3", "abc", "prepend k 0 0 3", "xyz", "get k"))
case("append_prepend_missing_not_stored", L("append k 0 0 1", "a", "prepend k 0 0 1", "b", "get k"))
case("append_prepend_ignore_new_flags", L("set k 5 0 1", "b", "append k 9 0 1", "c",
                                          "prepend k 11 0 1", "a", "gets k"))
case("append_zero_length", L("set k 3 0 2", "ab", "append k 0 0 0", "", "gets k"))
case("zero_length_value", L("set k 0 0 0", "", "get k", "gets k"))
case("value_containing_crlf", L("set k 0 0 7", "a\r\nb\r\nc", "get k"))
case("value_binary_bytes", b"set k 0 0 6\r\n\x00\x01\xff\r\n\x7f\r\nget k\r\n")
case("set_bytes_with_trailing_junk", L("set k 0 0 5x", "hello", "get k"))
case("set_extra_token_not_noreply_ignored", L("set k 0 0 1 foo", "a", "get k"))
case("set_without_flags_and_exptime", L("set k 5", "hello", "get k"))
case("set_too_few_tokens", L("set k 0 0", "a", "set", "get k"))
case("set_too_many_tokens", L("set k 0 0 1 noreply extra", "a", "get k"))
case("add_replace_append_prepend_too_few_tokens",
     L("add k 0 0", "replace k 0", "append k", "prepend", "get k"))
case("set_negative_flags", L("set k -1 0 1", "a", "get k"))
case("set_non_numeric_flags", L("set k abc 0 1", "a", "get k"))
case("set_flags_4294967295", L("set k 4294967295 0 1", "a", "get k"))
case("set_flags_4294967296", L("set k 4294967296 0 1", "a", "get k"))
case("set_flags_over_32_bits_truncated", L("set a 4294967297 0 1", "a", "set b 18446744073709551615 0 1", "b",
                                           "set c 18446744073709551616 0 1", "c", "get a b c"))
case("set_non_numeric_exptime", L("set k 0 abc 1", "a", "get k"))
case("set_negative_bytes", L("set k 0 0 -1", "a", "get k"))
case("set_non_numeric_bytes", L("set k 0 0 abc", "a", "get k"))
case("set_bytes_int_max", L("set k 0 0 2147483647", "a", "get k"))
case("set_over_1mb_reply_held_until_data_swallowed", L("set k 0 0 2000000", "get k", "set j 0 0 1", "j", "get j"))
case("set_negative_exptime_expires_immediately", L("set k 0 -1 1", "a", "get k", "add k 0 0 1", "b", "get k"))
case("set_exptime_over_30_days_is_absolute_past", L("set k 0 2592001 1", "a", "get k"))
case("set_exptime_30_days_is_relative", L("set k 0 2592000 1", "a", "get k"))

# ---------------------------------------------------------------- data blocks
case("data_block_too_short", L("set k 0 0 5", "abc", "get k", "get k"))
case("data_block_too_long", L("set k 0 0 3", "abcdef", "get k"))
case("data_block_too_long_with_command_in_tail", L("set k 0 0 3", "abcget k", "set j 0 0 1", "j", "get j"))
case("data_block_wrong_terminator", b"set k 0 0 3\r\nabcXY\r\nget k\r\n")
case("data_block_lf_terminator", b"set k 0 0 3\r\nabc\nget k\r\nget k\r\n")
case("data_block_bad_keeps_old_value", L("set k 0 0 3", "old", "set k 0 0 3", "newer", "get k"))
case("data_block_bad_noreply_is_silent", L("set k 0 0 3 noreply", "abcdef", "get k"))

# ---------------------------------------------------------------- noreply
case("set_noreply", L("set k 0 0 1 noreply", "a", "get k"))
case("add_noreply", L("add k 0 0 1 noreply", "a", "add k 0 0 1 noreply", "b", "get k"))
case("replace_noreply", L("replace k 0 0 1 noreply", "a", "set k 0 0 1", "a", "replace k 0 0 1 noreply", "b", "get k"))
case("append_noreply", L("append k 0 0 1 noreply", "x", "set k 0 0 1", "a", "append k 0 0 1 noreply", "b", "get k"))
case("prepend_noreply", L("prepend k 0 0 1 noreply", "x", "set k 0 0 1", "a", "prepend k 0 0 1 noreply", "b", "get k"))
case("cas_noreply", L("cas k 0 0 1 1 noreply", "a", "set k 0 0 1", "a", "cas k 0 0 1 99 noreply", "b",
                      "gets k", "cas k 0 0 1 2 noreply", "c", "gets k"))
case("incr_decr_noreply", L("incr k 1 noreply", "set k 0 0 2", "10", "incr k 5 noreply",
                            "decr k 3 noreply", "get k"))
case("delete_noreply", L("set k 0 0 1", "a", "delete k noreply", "delete k noreply", "get k"))
case("touch_noreply", L("touch k 10 noreply", "set k 0 0 1", "a", "touch k 10 noreply", "get k"))
case("noreply_suppresses_set_bad_flags_error", L("set k abc 0 1 noreply", "a", "get k"))
case("noreply_suppresses_incr_non_numeric_error", L("set k 0 0 1", "a", "incr k 1 noreply", "get k"))
case("noreply_suppresses_incr_invalid_delta_error", L("set k 0 0 1", "1", "incr k x noreply", "get k"))
case("noreply_suppresses_touch_invalid_exptime_error", L("touch k abc noreply", "get k"))
case("noreply_suppresses_delete_bad_arg_error", L("delete k 1 noreply", "get k"))
case("noreply_does_not_suppress_unknown_command", L("foo noreply", "set k 0 0 noreply", "get k"))

# ---------------------------------------------------------------- cas / gets
case("gets_cas_sequence", L("set a 0 0 1", "a", "set b 0 0 1", "b", "set a 0 0 1", "c", "gets a b"))
case("cas_success", L("set k 0 0 1", "a", "gets k", "cas k 0 0 1 1", "b", "gets k"))
case("cas_stale_exists", L("set k 0 0 1", "a", "set k 0 0 1", "b", "cas k 0 0 1 1", "c", "gets k"))
case("cas_on_missing_key", L("cas k 0 0 1 1", "a", "get k"))
case("cas_bad_unique", L("set k 0 0 1", "a", "cas k 0 0 1 abc", "b", "cas k 0 0 1 -1", "c", "get k"))
case("cas_unique_zero", L("set k 0 0 1", "a", "cas k 0 0 1 0", "b", "gets k"))
case("cas_too_few_tokens", L("set k 0 0 1", "a", "cas k 0 0 1", "b", "get k"))
case("cas_too_many_tokens", L("set k 0 0 1", "a", "cas k 0 0 1 1 noreply x", "b", "get k"))
case("cas_changes_on_append_incr_touch", L("set k 0 0 1", "1", "gets k", "append k 0 0 1", "2", "gets k",
                                           "incr k 1", "gets k", "touch k 100", "gets k"))

# ---------------------------------------------------------------- get
case("get_missing_key", L("get nope"))
case("get_many_keys_some_missing", L("set a 0 0 1", "A", "set c 0 0 1", "C", "set e 1 0 1", "E",
                                     "get a b c d e", "gets a b c d e"))
case("get_same_key_twice", L("set a 0 0 1", "A", "get a a"))
case("get_no_key", L("get", "gets"))
case("get_30_keys", L("set k5 0 0 2", "v5", "set k29 0 0 3", "v29",
                      "get " + " ".join("k%d" % i for i in range(30))))
case("get_line_over_2048_bytes", L("set key0100 0 0 1", "x",
                                   "get " + " ".join("key%04d" % i for i in range(300))))
case("get_noreply_is_a_key", L("set noreply 0 0 1", "n", "get k noreply"))
case("key_250_bytes_set_get", L(b"set " + K250 + b" 0 0 1", "a", b"get " + K250))
case("key_251_bytes_get", L(b"get " + K251, "get k"))
case("key_251_bytes_set_data_line_becomes_command", L(b"set " + K251 + b" 0 0 1", "a", "get k"))
case("key_251_bytes_set_data_is_a_command", L(b"set " + K251 + b" 0 0 5", "get k", "set k 0 0 1", "a", "get k"))
case("key_251_in_multiget", L(b"get a " + K251 + b" b", "get a"))
case("key_251_in_multiget_after_flushing_get", L("set a 0 0 1", "A", "get a", b"get a " + K251, "get a"))
case("key_251_in_multiget_discards_unflushed_replies",
     L("set a 0 0 1", "A", "set b 0 0 1", "B", b"get a " + K251 + b" b", "get b"))
case("key_with_control_char_x01", b"set a\x01b 0 0 1\r\nx\r\nget a\x01b\r\nget ab\r\n")
case("key_with_del_x7f", b"set a\x7fb 0 0 1\r\nx\r\nget a\x7fb\r\n")
case("key_with_nul_byte", b"set a\x00b 0 0 1\r\nx\r\nget a\x00b\r\nget a\r\n")
case("key_with_utf8_bytes", "set ключ 0 0 1\r\nx\r\nget ключ\r\n".encode())
case("key_with_tab_inside", b"set a\tb 0 0 1\r\nx\r\nget a\tb\r\nget a\r\n")

# ---------------------------------------------------------------- parsing
case("unknown_command", L("foo", "foo bar baz", "sett k 0 0 1", "gett k"))
case("empty_lines", L("", "", "set k 0 0 1", "a", "", "get k"))
case("lf_only_empty_line", b"\n\nget k\n")
case("lf_only_line_endings", b"set k 0 0 2\r\n10\r\nget k\nincr k 5\ndecr k 1\ntouch k 0\ngets k\ndelete k\nget k\n")
case("lf_only_data_block_is_bad_chunk", b"set k 0 0 1\na\nget k\nget k\n")
case("stray_cr_is_part_of_token", b"set k 0 0 1\r\na\r\nget k\r\r\nget k\rget j\r\nget k\r\n")
case("multiple_spaces_between_tokens", L("set  k   0  0   1", "1", "get    k", "incr  k  1", "delete   k"))
case("leading_and_trailing_spaces", L("  set k 0 0 1  ", "a", "   get k   "))
case("tabs_between_tokens", b"set\tk\t0\t0\t1\r\na\r\nget\tk\r\nget k\r\n")
case("upper_case_commands", L("SET k 0 0 1", "a", "set k 0 0 1", "b", "GET k", "Get k", "DELETE k", "INCR k 1", "get k"))
case("long_line_without_newline_closes", b"x" * 3000)
case("long_get_line_without_newline_waits", b"get " + b"k " * 1500)

# ---------------------------------------------------------------- incr / decr
case("incr_decr_basic", L("set k 0 0 1", "5", "incr k 3", "get k", "set j 0 0 2", "50", "decr j 8", "get j"))
case("incr_decr_missing_key", L("incr k 1", "decr k 1"))
case("decr_floors_at_zero", L("set k 0 0 1", "5", "decr k 10", "get k"))
case("incr_wraps_at_2_pow_64", L("set k 0 0 20", U64MAX, "incr k 1", "get k", "incr k 5", "get k"))
case("incr_large_delta_wraps", L("set k 0 0 1", "2", "incr k " + U64MAX, "get k"))
case("incr_non_numeric_value", L("set k 0 0 3", "abc", "incr k 1", "decr k 1"))
case("incr_negative_value", L("set k 0 0 2", "-5", "incr k 1"))
case("incr_empty_value", L("set k 0 0 0", "", "incr k 1"))
case("incr_invalid_delta", L("set k 0 0 1", "1", "incr k abc", "incr k -1", "incr k 1x",
                             "incr k 18446744073709551616", "get k"))
case("incr_value_20_digits_max", L("set k 0 0 20", "18446744073709551614", "incr k 1", "get k"))
case("incr_value_20_digits_overflow", L("set k 0 0 20", "99999999999999999999", "incr k 1"))
case("incr_value_with_trailing_spaces", L("set k 0 0 4", "12  ", "incr k 1", "get k"))
case("incr_value_with_leading_space", L("set k 0 0 3", " 12", "incr k 1", "get k"))
case("incr_value_with_leading_zeros", L("set k 0 0 3", "007", "incr k 1", "get k"))
case("incr_grows_length", L("set k 0 0 2", "99", "incr k 1", "get k"))
case("decr_10_by_1_get_shows_9_space", L("set k 0 0 2", "10", "decr k 1", "get k", "incr k 1", "get k"))
case("decr_shrinks_then_incr_grows", L("set k 0 0 3", "100", "decr k 99", "get k", "incr k 1000", "get k"))
case("incr_keeps_flags", L("set k 42 0 1", "1", "incr k 1", "get k"))
case("incr_token_count_errors", L("set k 0 0 1", "1", "incr", "incr k", "decr k", "incr k 1 noreply x", "get k"))
case("incr_extra_token_ignored", L("set k 0 0 1", "1", "incr k 1 foo", "get k"))

# ---------------------------------------------------------------- delete
case("delete_existing_and_missing", L("set k 0 0 1", "a", "delete k", "delete k", "get k"))
case("delete_legacy_zero", L("set k 0 0 1", "a", "delete k 0", "get k"))
case("delete_legacy_zero_noreply", L("set k 0 0 1", "a", "delete k 0 noreply", "get k"))
case("delete_with_time_1_error", L("set k 0 0 1", "a", "delete k 1", "get k"))
case("delete_non_numeric_arg", L("set k 0 0 1", "a", "delete k abc", "get k"))
case("delete_token_count_errors", L("set k 0 0 1", "a", "delete", "delete k 0 noreply x", "get k"))

# ---------------------------------------------------------------- touch / gat
case("touch_existing_and_missing", L("set k 0 0 1", "a", "touch k 100", "touch nope 100", "get k"))
case("touch_invalid_exptime", L("set k 0 0 1", "a", "touch k abc", "get k"))
case("touch_negative_expires", L("set k 0 0 1", "a", "touch k -1", "get k"))
case("touch_token_count_errors", L("touch", "touch k", "touch k 1 noreply x"))
case("gat_hit_and_miss", L("set k 3 0 2", "vv", "gat 100 k nope", "get k"))
case("gats_returns_cas", L("set a 0 0 1", "A", "set b 0 0 1", "B", "gats 0 a b c"))
case("gat_non_numeric_exptime", L("set k 0 0 1", "a", "gat abc k", "gats x k"))
case("gat_negative_exptime_expires", L("set k 0 0 1", "a", "gat -1 k", "get k"))
case("gat_no_key", L("gat 10", "gat", "gats 10"))

# ---------------------------------------------------------------- flush_all
case("flush_all_plain", L("set a 0 0 1", "a", "set b 0 0 1", "b", "flush_all", "get a b", "set a 0 0 1", "z", "get a"))
case("flush_all_zero", L("set a 0 0 1", "a", "flush_all 0", "get a"))
case("flush_all_noreply", L("set a 0 0 1", "a", "flush_all noreply", "get a"))
case("flush_all_zero_noreply", L("set a 0 0 1", "a", "flush_all 0 noreply", "get a"))
case("flush_all_bad_arg", L("set a 0 0 1", "a", "flush_all abc", "flush_all -1", "get a"))
case("flush_all_too_many_tokens", L("flush_all 0 noreply x", "flush_all 0 0"))
case("flush_all_delayed_keeps_items_now", L("set a 0 0 1", "a", "flush_all 100", "get a"))

# ---------------------------------------------------------------- misc commands
case("verbosity", L("verbosity 1", "verbosity 0 noreply", "verbosity", "verbosity abc", "verbosity 1 2 3"))
case("quit_closes_connection", L("set k 0 0 1", "a", "get k", "quit", "get k"))
case("quit_with_argument", L("quit now", "get k"))
case("shutdown_not_enabled", L("shutdown", "shutdown graceful", "get k"))
case("cache_memlimit_100", L("cache_memlimit 100", "cache_memlimit 100 noreply", "get k"))
case("cache_memlimit_bad_arg", L("cache_memlimit abc", "cache_memlimit", "cache_memlimit -1", "cache_memlimit 1 2 3"))
case("cache_memlimit_too_small", L("cache_memlimit 5", "cache_memlimit 8"))
case("stats_cachedump_1_1", L("set k 0 0 5", "hello", "stats cachedump 1 1"))

# ---------------------------------------------------------------- pipelines
case("pipeline_mixed_commands", L(
    "set a 1 0 1", "1", "add a 0 0 1", "2", "add b 2 0 2", "bb", "replace c 0 0 1", "c",
    "append a 0 0 1", "0", "prepend b 0 0 1", "<", "incr a 5", "decr a 100", "gets a b c",
    "cas a 0 0 1 5", "x", "cas a 0 0 1 6", "y", "touch a 0", "gat 0 a", "delete b", "get a b",
    "verbosity 0", "flush_all", "get a", "foo", "incr a 1"))
case("pipeline_100_sets_then_get", b"".join(L("set k%d %d 0 %d" % (i, i, len(str(i))), str(i)) for i in range(100))
     + L("get " + " ".join("k%d" % i for i in range(0, 100, 7))))
case("pipeline_noreply_mix", L("set a 0 0 1 noreply", "1", "incr a 9 noreply", "append a 0 0 1 noreply", "x",
                               "get a", "delete a noreply", "add a 0 0 1 noreply", "2", "get a"))
case("pipeline_errors_do_not_desync", L("set k 0 0 1", "a", "bogus", "get", "incr k x", "set k 0 0 z", "q",
                                        "delete k 5", "get k"))

# ---------------------------------------------------------------- large (server started with 1 KiB item limit)
# 2000 bytes of valid-looking commands + the data block's \r\n: all swallowed
JUNK = L("set z 0 0 1", "z") * 125 + b"\r\n"
case("large_set_too_large_removes_old_value", L("set k 0 0 3", "old", "set k 0 0 2000"), JUNK,
     L("get k", "get z"))
case("large_set_too_large_noreply", L("set k 0 0 3", "old", "set k 0 0 2000 noreply"), JUNK, L("get k z"))
case("large_set_900_fits", L("set k 0 0 900", "v" * 900, "get k"))
case("large_replace_too_large_keeps_old", L("set k 0 0 3", "old", "replace k 0 0 2000"), JUNK, L("get k z"))
case("large_add_too_large", L("add k 0 0 2000"), JUNK, L("get k z"))
case("large_append_exceeds_limit", L("set k 0 0 600", "a" * 600, "append k 0 0 600", "b" * 600, "get z", "gets k"))
case("large_cas_too_large", L("set k 0 0 3", "old", "cas k 0 0 2000 1"), JUNK, L("gets k z"))
case("large_set_too_large_reply_held_until_data_swallowed", L("set k 0 0 2000", "tiny", "get k", "set j 0 0 1", "j", "get j"))


# ---------------------------------------------------------------- meta (found by differential fuzzing)
case("meta_mg_vivify_with_ttl_minus_one_is_gone", L("mg a N0 T-1", "mg a v"))
case("meta_mg_vivify_with_ttl_sets_that_ttl", L("mg b N0 T50", "mg b t v"))
case("meta_mg_hit_after_vivify_counts_the_vivifying_fetch", L("mg c N0 h v", "mg c h v"))
case("meta_ms_replace_with_cas_on_missing_key_not_found", L("ms x 1 C5 MR", "A", "ms y 1 C5", "B"))
case("meta_ms_bare_mode_token", L("ms k 1 M", "A", "mn"))
case("meta_ms_mode_token_too_long", L("ms k 1 MEE", "A", "mn"))
case("meta_ma_bare_mode_token", L("ma k M"))
case("meta_ma_bad_delta_and_initial", L("ma k Dabc", "ma k Jx", "ma k D-1"))
case("meta_mg_bad_delta_and_initial", L("mg k Dx", "mg k Jx"))
case("meta_md_ma_opaque_too_long", L("md k O" + "x" * 40, "ma k O" + "x" * 40, "mg k O" + "x" * 40))
case("meta_ms_refused_returns_c0", L("ms z 1 c", "A", "ms z 1 c C99 k", "B", "ms w 1 MR c C3", "A"))
case("meta_ms_refused_append_returns_flags_in_order", L("ms y 1 c MA k s O1", "A"))


def main():
    check = "--check" in sys.argv[1:]
    d = os.path.join(HERE, "cases")
    os.makedirs(d, exist_ok=True)
    differ = []
    for name, data in sorted(CASES.items()):
        p = os.path.join(d, name + ".in")
        old = open(p, "rb").read() if os.path.exists(p) else None
        if old != data:
            differ.append(name)
            if not check:
                with open(p, "wb") as f:
                    f.write(data)
    print("%d cases, %d %s" % (len(CASES), len(differ), "differ" if check else "written"))
    for n in differ:
        print("  " + n)
    if check and differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
