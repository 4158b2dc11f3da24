using Cairn.Tests.Support;

namespace Cairn.Tests.Cli;

public class CliInteractiveTests
{
    [Fact]
    public async Task Friendly_set_get_delete_answer_plainly()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync(
            "set make Ford\nget make\ndelete make\nget make\nexit\nget never-run\n",
            "--server", $"127.0.0.1:{server.Port}");

        Assert.Equal(0, result.Code);
        // The last prompt is the one `exit` was typed at; nothing after it runs.
        Assert.Equal(["STORED", "Ford", "DELETED", "(not found)", ""], Replies(result.Output));
    }

    [Fact]
    public async Task Friendly_set_takes_ttl_flags_and_a_value_with_spaces()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync(
            "set car Model T --flags 7 --ttl 1000\nget car\n",
            "--server", $"127.0.0.1:{server.Port}");

        Assert.Equal(["STORED", "Model T", ""], Replies(result.Output));
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get car\r\n", "VALUE car 7 7\r\nModel T\r\nEND\r\n");
    }

    [Fact]
    public async Task Raw_commands_are_sent_as_typed_and_the_reply_shown()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync(
            "set raw 0 0 3\nabc\nget raw missing\nversion\nbogus\nmg raw v\n",
            "--server", $"127.0.0.1:{server.Port}");

        Assert.Equal(0, result.Code);
        var output = result.Output;
        Assert.Contains("cairn> STORED\n", output, StringComparison.Ordinal);
        Assert.Contains("cairn> VALUE raw 0 3\nabc\nEND\n", output, StringComparison.Ordinal);
        Assert.Contains("cairn> VERSION 1.6", output, StringComparison.Ordinal);
        Assert.Contains("cairn> ERROR\n", output, StringComparison.Ordinal);
        Assert.Contains("cairn> VA 3\nabc\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_raw_data_line_shorter_than_declared_is_not_sent_and_the_shell_says_why()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync(
            "set raw 0 0 10\nabc\nget raw\n",
            "--server", $"127.0.0.1:{server.Port}");

        Assert.Equal(0, result.Code);
        Assert.Contains("not sent: the data line has 3 bytes but the command declares 10", result.Output, StringComparison.Ordinal);
        Assert.Contains("cairn> (not found)", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Incr_counts_and_stats_lists_names_and_values()
    {
        await using var server = await TestServer.StartAsync();
        var result = await CliRun.RunAsync(
            "incr hits\nset hits 10\nincr hits\nincr hits 5\nstats\n",
            "--server", $"127.0.0.1:{server.Port}");

        var replies = Replies(result.Output);
        Assert.Equal(["(not found)", "STORED", "11", "16"], replies.Take(4));
        Assert.Contains("\ncurr_items 1\n", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_and_history_work_without_a_server_and_end_of_input_leaves()
    {
        var result = await CliRun.RunAsync("help\nhistory\n", "--server", $"127.0.0.1:{CliRun.ClosedPort()}");

        Assert.Equal(0, result.Code);
        Assert.Contains("set KEY VALUE", result.Output, StringComparison.Ordinal);
        Assert.Contains("   1  help\n   2  history\n", result.Output, StringComparison.Ordinal);
        Assert.EndsWith("cairn> \n", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_server_is_reported_and_the_shell_carries_on()
    {
        var result = await CliRun.RunAsync("get k\nquit\n", "--server", $"127.0.0.1:{CliRun.ClosedPort()}");

        Assert.Equal(0, result.Code);
        Assert.Contains("cannot connect", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_server_error_is_shown_and_the_next_command_still_works()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        var result = await CliRun.RunAsync("compact\nset a b\nget a\n", "--server", $"127.0.0.1:{server.Port}");

        Assert.Equal(["SERVER_ERROR persistence is off (--no-persist)", "STORED", "b", ""], Replies(result.Output));
    }

    /// <summary>What follows each prompt, up to the end of its line.</summary>
    private static string[] Replies(string output) =>
        output.Split("cairn> ").Skip(1).Select(chunk => chunk.Split('\n')[0]).ToArray();
}
