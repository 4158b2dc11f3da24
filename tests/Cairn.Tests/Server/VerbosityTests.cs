using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>-v, -vv and "verbosity" change what the server logs, and a flood of refusals is one line a second.</summary>
public sealed class VerbosityTests
{
    [Fact]
    public async Task Dash_v_logs_connections_and_verbosity_2_adds_each_command_at_run_time()
    {
        using var server = await ChildServer.StartAsync(["--no-persist", "-v"]);
        using (var client = await TestClient.ConnectAsync(server.EndPoint))
        {
            await client.RoundTripAsync("get before\r\n", "END\r\n");
            await client.RoundTripAsync("verbosity 2\r\n", "OK\r\n");
            await client.RoundTripAsync("get after\r\n", "END\r\n");
        }

        var lines = await WaitForAsync(server, lines => lines.Any(line => line.Contains(" closed", StringComparison.Ordinal)));
        Assert.Contains(lines, line => line.Contains("opened from 127.0.0.1:", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.EndsWith(" get after", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, line => line.EndsWith(" get before", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_v_nothing_is_logged_per_connection()
    {
        using var server = await ChildServer.StartAsync(["--no-persist"]);
        using (var client = await TestClient.ConnectAsync(server.EndPoint))
        {
            await client.RoundTripAsync("get k\r\n", "END\r\n");
        }

        await Task.Delay(300);
        Assert.DoesNotContain(server.ErrorLines(), line => line.Contains("opened from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refused_connections_are_logged_at_most_once_a_second_with_a_count()
    {
        using var server = await ChildServer.StartAsync(["--no-persist", "-c", "1"]);
        using var holder = await TestClient.ConnectAsync(server.EndPoint);
        await holder.RoundTripAsync("version\r\n", $"VERSION {Cairn.Server.Hosting.ServerContext.Version}\r\n");
        for (int i = 0; i < 50; i++)
        {
            using var refused = await TestClient.ConnectAsync(server.EndPoint);
            await refused.ExpectAsync("ERROR Too many open connections\r\n");
        }

        var lines = await WaitForAsync(server, lines => lines.Any(line => line.Contains("refused", StringComparison.Ordinal)));
        var refusals = lines.Where(line => line.Contains("too many open connections (-c 1)", StringComparison.Ordinal)).ToArray();
        Assert.InRange(refusals.Length, 1, 10);
    }

    private static async Task<string[]> WaitForAsync(ChildServer server, Func<string[], bool> condition)
    {
        for (int i = 0; i < 100; i++)
        {
            var lines = server.ErrorLines();
            if (condition(lines))
            {
                return lines;
            }

            await Task.Delay(100);
        }

        return server.ErrorLines();
    }
}
