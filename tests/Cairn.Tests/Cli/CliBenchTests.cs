using System.Text.Json;
using Cairn.Tests.Support;

namespace Cairn.Tests.Cli;

public class CliBenchTests
{
    [Fact]
    public async Task A_request_count_run_finishes_with_zero_errors()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        var result = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--threads", "2", "--clients", "2", "--requests", "50");

        Assert.Equal(0, result.Code);
        Assert.Contains("4 connections (2 threads x 2 clients)", result.Output, StringComparison.Ordinal);
        Assert.Contains("  ops         200 (", result.Output, StringComparison.Ordinal);
        Assert.Contains("  errors      0\n", result.Output, StringComparison.Ordinal);
        Assert.Contains("p99.9", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_is_one_object_with_the_counts()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        var result = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--threads", "2", "--clients", "2", "--requests", "50",
            "--ratio", "1:1", "--keys", "20", "--json");

        Assert.Equal(0, result.Code);
        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.Equal(200, root.GetProperty("ops").GetInt64());
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.Equal(4, root.GetProperty("connections").GetInt32());
        Assert.Equal(200, root.GetProperty("sets").GetInt64() + root.GetProperty("gets").GetInt64());
        Assert.Equal(root.GetProperty("gets").GetInt64(), root.GetProperty("hits").GetInt64() + root.GetProperty("misses").GetInt64());
        Assert.True(root.GetProperty("hits").GetInt64() > 0);
        Assert.True(root.GetProperty("ops_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("p50_us").GetDouble() <= root.GetProperty("p99_us").GetDouble());
        Assert.True(root.GetProperty("p99_us").GetDouble() <= root.GetProperty("max_us").GetDouble());
    }

    [Fact]
    public async Task A_duration_run_with_pipelining_meta_and_zipf_keys_has_zero_errors()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        var result = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--connections", "4", "--duration", "1",
            "--pipeline", "4", "--protocol", "meta", "--key-pattern", "zipf", "--keys", "100", "--progress", "--json");

        Assert.Equal(0, result.Code);
        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("ops").GetInt64() > 0);
        Assert.True(root.GetProperty("seconds").GetDouble() >= 1);
        Assert.Contains("ops/s", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Errors_are_reported_by_reason_and_the_counts_add_up()
    {
        // Values over -I are refused by the server; the run says so, and sets + gets and hits + misses + failed add up.
        await using var server = await TestServer.StartAsync(options =>
        {
            options.Persist = false;
            options.MaxItemSize = 1024;
        });
        var result = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--connections", "2", "--requests", "50",
            "--ratio", "1:1", "--keys", "10", "--value-size", "2000");

        Assert.Equal(1, result.Code);
        var lines = result.Output.Split('\n');
        Assert.StartsWith("cairn bench: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, line => line.EndsWith("server replied SERVER_ERROR object too large for cache", StringComparison.Ordinal));

        var json = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--connections", "2", "--requests", "50",
            "--ratio", "1:1", "--keys", "10", "--value-size", "2000", "--json");
        using var document = JsonDocument.Parse(json.Output);
        var root = document.RootElement;
        Assert.Equal(100, root.GetProperty("sets").GetInt64() + root.GetProperty("gets").GetInt64());
        Assert.Equal(root.GetProperty("gets").GetInt64(), root.GetProperty("hits").GetInt64() + root.GetProperty("misses").GetInt64() + root.GetProperty("failed_gets").GetInt64());
        Assert.Equal(root.GetProperty("sets").GetInt64(), root.GetProperty("error_reasons").GetProperty("server replied SERVER_ERROR object too large for cache").GetInt64());
    }

    [Fact]
    public async Task A_wrong_value_counts_as_an_error_and_exits_1()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        using (var client = await server.ConnectAsync())
        {
            // The only key the run will read, holding a value the bench did not write.
            await client.RoundTripAsync("set bench:100:0 0 0 5\r\nwrong\r\n", "STORED\r\n");
        }

        var result = await CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--connections", "2", "--requests", "10",
            "--ratio", "0:1", "--keys", "1", "--json");

        Assert.Equal(1, result.Code);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(20, json.RootElement.GetProperty("errors").GetInt64());
    }

    [Fact]
    public async Task An_unreachable_server_exits_3()
    {
        var result = await CliRun.RunAsync("", "bench", "--server", $"127.0.0.1:{CliRun.ClosedPort()}", "--connections", "2");
        Assert.Equal(3, result.Code);
    }

    /// <summary>
    /// An open-loop run never sends faster than its rate, and a server that stalls shows in the percentiles: every
    /// request that fell due during a 600 ms SIGSTOP counts its wait (coordinated omission corrected), where a closed
    /// loop would have recorded one slow sample per connection.
    /// </summary>
    [Fact]
    public async Task A_rate_bounds_the_requests_and_a_stall_shows_in_the_percentiles()
    {
        using var server = await ChildServer.StartAsync(["--no-persist"]);
        var run = CliRun.RunAsync(
            "", "bench", "--server", $"127.0.0.1:{server.Port}", "--connections", "4", "--duration", "2", "--rate", "200", "--json");
        await Task.Delay(400);
        await server.SignalAsync("STOP");
        await Task.Delay(600);
        await server.SignalAsync("CONT");
        var result = await run;

        Assert.Equal(0, result.Code);
        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        Assert.Equal(200, root.GetProperty("target_rate").GetDouble());
        Assert.InRange(root.GetProperty("ops").GetInt64(), 1, (200 * 2) + 4);
        Assert.True(root.GetProperty("p90_us").GetDouble() >= 100_000, result.Output);
    }
}
