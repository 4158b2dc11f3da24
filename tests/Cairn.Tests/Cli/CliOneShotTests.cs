using Cairn.Tests.Support;

namespace Cairn.Tests.Cli;

public class CliOneShotTests
{
    [Fact]
    public async Task Set_then_get_prints_the_value_and_exits_0()
    {
        await using var server = await TestServer.StartAsync();
        var address = $"127.0.0.1:{server.Port}";

        var set = await CliRun.RunAsync("", "--server", address, "set", "make", "Ford");
        Assert.Equal((0, "STORED\n"), (set.Code, set.Output));

        var get = await CliRun.RunAsync("", "get", "make", "--server", address);
        Assert.Equal((0, "Ford\n", ""), get);

        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get make\r\n", "VALUE make 0 4\r\nFord\r\nEND\r\n");
    }

    [Fact]
    public async Task Set_passes_ttl_and_flags()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{server.Port}", "set", "k", "v", "--ttl", "1000", "--flags", "42");
        Assert.Equal(0, result.Code);

        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get k\r\n", "VALUE k 42 1\r\nv\r\nEND\r\n");
    }

    [Fact]
    public async Task Set_dash_reads_the_value_from_stdin_to_the_end()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync("line one\nline two", "--server", $"127.0.0.1:{server.Port}", "set", "doc", "-");
        Assert.Equal(0, result.Code);

        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get doc\r\n", "VALUE doc 0 17\r\nline one\nline two\r\nEND\r\n");
    }

    [Fact]
    public async Task Get_and_delete_of_a_missing_key_exit_1()
    {
        await using var server = await TestServer.StartAsync();
        var address = $"127.0.0.1:{server.Port}";

        var get = await CliRun.RunAsync("", "--server", address, "get", "nothing");
        Assert.Equal((1, ""), (get.Code, get.Output));
        Assert.Contains("(not found)", get.Error, StringComparison.Ordinal);

        Assert.Equal(1, (await CliRun.RunAsync("", "--server", address, "delete", "nothing")).Code);
    }

    [Fact]
    public async Task Delete_removes_the_key_and_exits_0()
    {
        await using var server = await TestServer.StartAsync();
        var address = $"127.0.0.1:{server.Port}";
        Assert.Equal(0, (await CliRun.RunAsync("", "--server", address, "set", "k", "v")).Code);

        var delete = await CliRun.RunAsync("", "--server", address, "delete", "k");
        Assert.Equal((0, "DELETED\n"), (delete.Code, delete.Output));
        Assert.Equal(1, (await CliRun.RunAsync("", "--server", address, "get", "k")).Code);
    }

    [Fact]
    public async Task Stats_prints_name_value_lines()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{server.Port}", "stats");
        Assert.Equal(0, result.Code);
        Assert.Contains("\ncurr_items 0\n", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("STAT ", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compact_exits_0_with_persistence_and_4_when_the_server_refuses()
    {
        await using (var server = await TestServer.StartAsync())
        {
            var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{server.Port}", "compact");
            Assert.Equal((0, "OK\n"), (result.Code, result.Output));
        }

        await using (var server = await TestServer.StartAsync(options => options.Persist = false))
        {
            var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{server.Port}", "compact");
            Assert.Equal(4, result.Code);
            Assert.Contains("SERVER_ERROR persistence is off", result.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_closed_port_exits_3()
    {
        var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{CliRun.ClosedPort()}", "get", "k");
        Assert.Equal(3, result.Code);
        Assert.Contains("cannot connect", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("get")]
    [InlineData("get", "a", "b")]
    [InlineData("set", "k")]
    [InlineData("get", "k", "--bogus")]
    [InlineData("set", "k", "v", "--ttl", "soon")]
    [InlineData("--server", "nowhere:port", "get", "k")]
    [InlineData("bench", "--ratio", "1")]
    [InlineData("--server", "127.0.0.1:1,127.0.0.1:2", "stats")]
    [InlineData("--server", "127.0.0.1:1,127.0.0.1:2", "compact")]
    [InlineData("--server", "127.0.0.1:1,127.0.0.1:2")]
    [InlineData("--server", "127.0.0.1:1,127.0.0.1:1", "get", "k")]
    [InlineData("--server", "127.0.0.1:1:2,127.0.0.1:2", "--hash", "one-at-a-time", "get", "k")]
    [InlineData("--hash", "md5", "get", "k")]
    [InlineData("reshard", "--from", "127.0.0.1:1")]
    public async Task Usage_errors_exit_2_without_touching_the_server(params string[] args)
    {
        // Any server address that is reached would fail with 3, so 2 proves nothing was sent.
        var withServer = args.Contains("--server") ? args : ["--server", $"127.0.0.1:{CliRun.ClosedPort()}", .. args];
        var result = await CliRun.RunAsync("", withServer);
        Assert.Equal(2, result.Code);
        Assert.NotEmpty(result.Error);
    }

    [Fact]
    public async Task A_key_with_a_space_is_refused_rather_than_sent()
    {
        var result = await CliRun.RunAsync("", "--server", $"127.0.0.1:{CliRun.ClosedPort()}", "set", "two words", "v");
        Assert.Equal(2, result.Code);
    }

    [Fact]
    public async Task Help_prints_usage_and_exits_0()
    {
        var result = await CliRun.RunAsync("", "--help");
        Assert.Equal(0, result.Code);
        Assert.Contains("exit codes", result.Output, StringComparison.Ordinal);
    }
}
