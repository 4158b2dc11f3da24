using Cairn.Tests.Support;

namespace Cairn.Tests.Meta;

/// <summary>
/// Meta commands on the in-process server, byte for byte. Replies marked "1.6.18" were recorded from
/// memcached 1.6.18 with the same requests; the others follow the 1.6.45 protocol text where it differs.
/// </summary>
public sealed class MetaCommandTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(options => options.MaxItemSize = 4096);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Mn_answers_MN_whatever_follows()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("mn\r\n", "MN\r\n");
        await client.RoundTripAsync("mn foo bar\r\n", "MN\r\n");
    }

    [Fact]
    public async Task Bare_mg_answers_HD_on_hit_and_EN_on_miss()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("mg foo\r\nmg foo v\r\n", "EN\r\nEN\r\n");
        await client.RoundTripAsync("ms foo 2\r\nhi\r\nmg foo\r\nmg foo v\r\n", "HD\r\nHD\r\nVA 2\r\nhi\r\n");
    }

    [Fact]
    public async Task Mg_returns_flags_in_request_order()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms foo 2 F7\r\nhi\r\n", "HD\r\n");
        await client.SendAsync("mg foo c\r\n");
        var cas = (await client.ReadLineAsync())[4..].TrimEnd();
        await client.RoundTripAsync("mg foo s v f t k\r\n", "VA 2 s2 f7 t-1 kfoo\r\nhi\r\n");
        await client.RoundTripAsync("mg foo k Oabc c v\r\n", $"VA 2 kfoo Oabc c{cas}\r\nhi\r\n");
        await client.RoundTripAsync("mg foo  v   k\r\n", "VA 2 kfoo\r\nhi\r\n");
        await client.RoundTripAsync("mg foo P L v\r\n", "VA 2\r\nhi\r\n");
    }

    [Fact]
    public async Task Mg_hit_before_and_last_access_show_the_state_before_the_command()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18: first fetch h0, then h1; u leaves the item unmarked.
        await client.RoundTripAsync("ms hb 1\r\na\r\nmg hb h u\r\nmg hb h l\r\nmg hb h\r\n", "HD\r\nHD h0\r\nHD h0 l0\r\nHD h1\r\n");
    }

    [Fact]
    public async Task Mg_quiet_suppresses_only_the_miss_and_mn_ends_the_pipeline()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms q1 1 q\r\na\r\nmg q1 v q\r\nmg nope v q\r\nmg q1 q\r\nmn\r\n", "VA 1\r\na\r\nHD\r\nMN\r\n");
    }

    [Fact]
    public async Task Mg_miss_returns_key_and_opaque()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18.
        await client.RoundTripAsync("mg missing k O1\r\n", "EN kmissing O1\r\n");
    }

    [Fact]
    public async Task Mg_touch_and_ttl()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms tt 1 T0\r\na\r\nmg tt t\r\nmg tt T100 t\r\n", "HD\r\nHD t-1\r\nHD t100\r\n");
        await client.RoundTripAsync("ms gone 1 T-1\r\na\r\nmg gone v\r\n", "HD\r\nEN\r\n");
    }

    [Fact]
    public async Task Mg_compare_cas_leaves_out_an_unchanged_value()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("ms cc 2 c\r\nhi\r\n");
        var cas = (await client.ReadLineAsync())[4..].TrimEnd();
        await client.RoundTripAsync($"mg cc C{cas} v\r\nmg cc C999{cas} v\r\n", "HD\r\nVA 2\r\nhi\r\n");
    }

    [Fact]
    public async Task Base64_keys_decode_and_come_back_encoded_with_b()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms Zm9v 2 k b\r\nhi\r\n", "HD kZm9v b\r\n");
        await client.RoundTripAsync("mg foo v\r\nmg Zm9v b k v\r\n", "VA 2\r\nhi\r\nVA 2 kZm9v b\r\nhi\r\n");

        // A binary key: bytes 0x00 0x01 0x20.
        await client.RoundTripAsync("ms AAEg 1 b\r\nx\r\nmg AAEg b v k\r\n", "HD\r\nVA 1 kAAEg b\r\nx\r\n");
        await client.RoundTripAsync("mg Zm9 b v\r\n", "CLIENT_ERROR error decoding key\r\n");
    }

    [Fact]
    public async Task Flag_errors_use_memcached_words()
    {
        using var client = await _server.ConnectAsync();

        // All 1.6.18, except that Cairn (like the spec) allows an opaque of 32 bytes where 1.6.18 stops at 31.
        await client.RoundTripAsync("mg foo zz\r\n", "CLIENT_ERROR invalid flag\r\n");
        await client.RoundTripAsync("mg foo !\r\n", "CLIENT_ERROR invalid flag\r\n");
        await client.RoundTripAsync("mg foo 123\r\n", "CLIENT_ERROR invalid flag\r\n");
        await client.RoundTripAsync("mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n");
        await client.RoundTripAsync("mg foo Tabc\r\n", "CLIENT_ERROR bad token in command line format\r\n");
        await client.RoundTripAsync("mg foo T\r\n", "CLIENT_ERROR bad token in command line format\r\n");
        await client.RoundTripAsync("mg foo Nabc\r\n", "CLIENT_ERROR bad token in command line format\r\n");
        await client.RoundTripAsync($"mg foo O{new string('a', 32)}\r\n", $"EN O{new string('a', 32)}\r\n");
        await client.RoundTripAsync($"mg foo O{new string('a', 33)}\r\n", "CLIENT_ERROR opaque token too long\r\n");
        await client.RoundTripAsync("mg\r\n", "ERROR\r\n");
        await client.RoundTripAsync($"mg {new string('a', 251)} v\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync($"mg {new string('a', 250)} v\r\n", "EN\r\n");
        await client.RoundTripAsync("md d5 zz\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
        await client.RoundTripAsync("md d5 Cx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
        await client.RoundTripAsync("ma a3 Dx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n");
        await client.RoundTripAsync("ma a3 Mx\r\n", "CLIENT_ERROR invalid mode for ma M token\r\n");
        await client.RoundTripAsync("md\r\n", "ERROR\r\n");
        await client.RoundTripAsync("me\r\n", "CLIENT_ERROR bad command line format\r\n");
    }

    [Fact]
    public async Task Command_names_are_case_insensitive_like_the_classic_ones()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("MS up 1\r\nu\r\nMG up v\r\nMn\r\n", "HD\r\nVA 1\r\nu\r\nMN\r\n");
    }

    [Fact]
    public async Task Ms_modes_answer_like_the_classic_storage_commands()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18.
        await client.RoundTripAsync(
            "ms k1 1 ME\r\na\r\nms k1 1 ME\r\nb\r\nms k1 1 MA\r\nc\r\nms k1 1 MP\r\nd\r\nms nokey 1 MR\r\nx\r\nms nokey 1 MA\r\nx\r\nmg k1 v\r\n",
            "HD\r\nNS\r\nHD\r\nHD\r\nNS\r\nNS\r\nVA 3\r\ndac\r\n");
        await client.RoundTripAsync("ms k1 1 MR\r\nr\r\nms k1 1 MS\r\ns\r\nmg k1 v\r\n", "HD\r\nHD\r\nVA 1\r\ns\r\n");
        await client.RoundTripAsync("ms k1 1 Ma\r\nz\r\nms k1 1 MX\r\nz\r\n", "CLIENT_ERROR invalid mode for ms M token\r\nCLIENT_ERROR invalid mode for ms M token\r\n");
    }

    [Fact]
    public async Task Ms_returns_cas_size_key_and_opaque()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("ms sz 2 c\r\nab\r\n");
        var cas = ulong.Parse((await client.ReadLineAsync())[4..].TrimEnd());
        await client.RoundTripAsync("ms sz 3 MA s k O9 c\r\ncde\r\n", $"HD s5 ksz O9 c{cas + 1}\r\n");
        await client.RoundTripAsync("mg sz v f\r\n", "VA 5 f0\r\nabcde\r\n");
    }

    [Fact]
    public async Task Ms_compare_cas_and_quiet()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("ms k2 1 c\r\na\r\n");
        var cas = (await client.ReadLineAsync())[4..].TrimEnd();

        // 1.6.18: EX on a mismatch, NF on a miss; q hides only HD.
        await client.RoundTripAsync("ms k2 1 C999999\r\nb\r\nms k3 1 C5\r\nb\r\n", "EX\r\nNF\r\n");
        await client.RoundTripAsync($"ms k2 1 q C{cas}\r\nc\r\nms k2 1 q C{cas}\r\nd\r\nmn\r\n", "EX\r\nMN\r\n");
        await client.RoundTripAsync("mg k2 v\r\n", "VA 1\r\nc\r\n");
    }

    [Fact]
    public async Task Ms_explicit_cas_and_client_flags()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms k4 1 E777 c F42 T0\r\na\r\nmg k4 c f\r\n", "HD c777\r\nHD c777 f42\r\n");
    }

    [Fact]
    public async Task Ms_token_errors_and_swallowed_data()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18: refused lines never run their data as a command.
        await client.RoundTripAsync("ms k5 1 Fabc\r\na\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("ms k5 1 F-1\r\na\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("ms k5 1 Tx\r\na\r\n", "CLIENT_ERROR bad token in command line format\r\n");
        await client.RoundTripAsync("ms k5 1 C\r\na\r\n", "CLIENT_ERROR bad token in command line format\r\n");
        await client.RoundTripAsync("ms foo 2 zz\r\nmn\r\n", "CLIENT_ERROR invalid flag\r\n");
        await client.RoundTripAsync("ms foo 2 c c\r\nmn\r\n", "CLIENT_ERROR duplicate flag\r\n");
        await client.RoundTripAsync("ms\r\n", "ERROR\r\n");
        await client.RoundTripAsync("ms foo\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("ms foo bar\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("ms foo -1\r\n", "CLIENT_ERROR bad command line format\r\n");
        await client.RoundTripAsync("ms foo 2\r\nhiX\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n");
        await client.RoundTripAsync("mn\r\n", "MN\r\n");
    }

    [Fact]
    public async Task Ms_too_large_is_refused_after_its_data()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms big 1\r\nx\r\n", "HD\r\n");
        await client.RoundTripAsync($"ms big 5000\r\n{new string('v', 5000)}\r\nmg big\r\n", "SERVER_ERROR object too large for cache\r\nEN\r\n");
    }

    [Fact]
    public async Task Ms_append_with_N_vivifies_a_miss()
    {
        using var client = await _server.ConnectAsync();

        // The spec; 1.6.18 answers NS here.
        await client.RoundTripAsync("ms k6 1 MA N100\r\na\r\nmg k6 t v\r\n", "HD\r\nVA 1 t100\r\na\r\n");
    }

    [Fact]
    public async Task Md_deletes_and_quiet_hides_only_HD()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18.
        await client.RoundTripAsync("ms d1 1\r\na\r\nmd d1\r\nmd d1\r\nmd d1 q\r\nmn\r\n", "HD\r\nHD\r\nNF\r\nNF\r\nMN\r\n");
        await client.RoundTripAsync("ms d2 1\r\na\r\nmd d2 C1 k O5\r\nmd d2 q k\r\nmn\r\n", "HD\r\nEX kd2 O5\r\nMN\r\n");
        await client.RoundTripAsync("md ZGQ= b k\r\n", "NF kZGQ= b\r\n");
    }

    [Fact]
    public async Task Md_invalidate_marks_stale_and_the_next_mg_wins()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18: X W for the first fetch, Z X for the rest, until a set replaces the item.
        await client.RoundTripAsync("ms d3 1\r\na\r\nmd d3 I T30\r\nmg d3 v t\r\nmg d3 v\r\n", "HD\r\nHD\r\nVA 1 t30 X W\r\na\r\nVA 1 Z X\r\na\r\n");
        await client.RoundTripAsync("ms d3 1\r\nb\r\nmg d3 v\r\n", "HD\r\nVA 1\r\nb\r\n");
    }

    [Fact]
    public async Task Ms_invalidate_with_an_older_cas_stores_a_stale_item()
    {
        using var client = await _server.ConnectAsync();
        await client.SendAsync("ms st 1 c\r\na\r\n");
        var cas = ulong.Parse((await client.ReadLineAsync())[4..].TrimEnd());
        await client.RoundTripAsync($"ms st 1 C{cas + 1000} I\r\nb\r\n", "EX\r\n");
        await client.RoundTripAsync($"ms st 1 C{cas - 1} I\r\nb\r\nmg st v\r\n", "HD\r\nVA 1 X W\r\nb\r\n");
        await client.RoundTripAsync("ms st 1 I C1\r\nb\r\nms nost 1 I C1\r\nb\r\n", "HD\r\nNF\r\n");
    }

    [Fact]
    public async Task Md_x_keeps_an_empty_item()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms d4 3 F9\r\nabc\r\nmd d4 x\r\nmg d4 v s f\r\n", "HD\r\nHD\r\nVA 0 s0 f9\r\n\r\n");
    }

    [Fact]
    public async Task Mg_vivify_and_recache_hand_out_one_win()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18 (without c, whose value depends on the run).
        await client.RoundTripAsync("mg v1 N30 v t\r\nmg v1 N30 v t\r\nms v1 1\r\nx\r\nmg v1 v\r\n", "VA 0 t30 W\r\n\r\nVA 0 t30 Z\r\n\r\nHD\r\nVA 1\r\nx\r\n");
        await client.RoundTripAsync("ms r1 1 T10\r\nx\r\nmg r1 R30 v\r\nmg r1 R30 v\r\nmg r1 R5 v\r\n", "HD\r\nVA 1 W\r\nx\r\nVA 1 Z\r\nx\r\nVA 1 Z\r\nx\r\n");
        await client.RoundTripAsync("mg v2 N30 E500 c\r\n", "HD c500 W\r\n");
    }

    [Fact]
    public async Task Ma_increments_decrements_and_vivifies()
    {
        using var client = await _server.ConnectAsync();

        // 1.6.18.
        await client.RoundTripAsync(
            "ma a1\r\nma a1 N0 J10 v\r\nma a1 v\r\nma a1 MD D5 v\r\nma a1 M- D50 v t\r\nma a1 M+ D7\r\nma a1 Mi v\r\nmn\r\n",
            "NF\r\nVA 2\r\n10\r\nVA 2\r\n11\r\nVA 1\r\n6\r\nVA 1 t-1\r\n0\r\nHD\r\nCLIENT_ERROR invalid mode for ma M token\r\nMN\r\n");
        await client.RoundTripAsync("ms a2 2\r\nhi\r\nma a2\r\n", "HD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
        await client.RoundTripAsync("ma a5 D18446744073709551615 N0 J1 v\r\nma a5 N0 v\r\n", "VA 1\r\n1\r\nVA 1\r\n2\r\n");
        await client.RoundTripAsync("ma a6 q\r\nma a6 N0 q\r\nmn\r\nmg a6 v\r\n", "NF\r\nMN\r\nVA 1\r\n0\r\n");
    }

    [Fact]
    public async Task Ma_compare_cas_explicit_cas_and_ttl()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("ms a4 2\r\n10\r\nma a4 C999 v\r\n", "HD\r\nEX\r\n");
        await client.RoundTripAsync("ma a4 k O1 T100 t v\r\n", "VA 2 ka4 O1 t100\r\n11\r\n");
        await client.RoundTripAsync("ma a4 E99 c\r\nma a4 C99 c E100 v\r\n", "HD c99\r\nVA 2 c100\r\n13\r\n");
    }

    [Fact]
    public async Task Me_describes_an_item_without_changing_it()
    {
        using var client = await _server.ConnectAsync();
        await client.RoundTripAsync("me nokey\r\n", "EN\r\n");
        await client.RoundTripAsync("ms d3 1 E15\r\na\r\nme d3\r\n", "HD\r\nME d3 exp=-1 la=0 cas=15 fetch=no cls=1 size=62\r\n");
        await client.RoundTripAsync("mg d3\r\nme ZDM= b\r\n", "HD\r\nME ZDM= exp=-1 la=0 cas=15 fetch=yes cls=1 size=62\r\n");
    }
}
