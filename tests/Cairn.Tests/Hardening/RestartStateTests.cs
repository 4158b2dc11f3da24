using Cairn.Tests.Support;

namespace Cairn.Tests.Hardening;

/// <summary>Acknowledged state that a restart must not forget: meta invalidation, and flushes decided by order.</summary>
public sealed class RestartStateTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "cairn-restart-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_invalidated_item_comes_back_stale_after_a_restart(bool compactFirst)
    {
        await using (var server = await StartAsync())
        {
            using var client = await server.ConnectAsync();
            await client.RoundTripAsync("ms k 3\r\nold\r\n", "HD\r\n");
            await client.RoundTripAsync("md k I\r\n", "HD\r\n");
            await client.RoundTripAsync("ms gone 1\r\nx\r\n", "HD\r\n");
            await client.RoundTripAsync("md gone I x\r\n", "HD\r\n");
            if (compactFirst)
            {
                await client.RoundTripAsync("compact\r\n", "OK\r\n");
            }
        }

        await using var restarted = await StartAsync();
        using var check = await restarted.ConnectAsync();

        // Stale (X), and the first client to ask wins the recache (W) while the next hears Z, exactly as before the restart.
        await check.RoundTripAsync("mg k v\r\n", "VA 3 X W\r\nold\r\n");
        await check.RoundTripAsync("mg k v\r\n", "VA 3 Z X\r\nold\r\n");
        await check.RoundTripAsync("mg gone v\r\n", "VA 0 X W\r\n\r\n");
    }

    [Fact]
    public async Task Flush_all_removes_an_item_whose_cas_a_client_chose_in_memory_and_after_a_restart()
    {
        await using (var server = await StartAsync())
        {
            using var client = await server.ConnectAsync();
            await client.RoundTripAsync("ms e1 1 E999999\r\nx\r\n", "HD\r\n");
            await client.RoundTripAsync("set plain 0 0 1\r\ny\r\n", "STORED\r\n");
            await client.RoundTripAsync("flush_all\r\n", "OK\r\n");
            await client.RoundTripAsync("mg e1 v\r\n", "EN\r\n");
            await client.RoundTripAsync("mg plain v\r\n", "EN\r\n");

            // A store in the same second, after the flush, is not flushed.
            await client.RoundTripAsync("ms after 1 E5\r\nz\r\n", "HD\r\n");
        }

        await using var restarted = await StartAsync();
        using var check = await restarted.ConnectAsync();
        await check.RoundTripAsync("mg e1 v\r\n", "EN\r\n");
        await check.RoundTripAsync("mg plain v\r\n", "EN\r\n");
        await check.RoundTripAsync("mg after v\r\n", "VA 1\r\nz\r\n");
    }

    private Task<TestServer> StartAsync() => TestServer.StartAsync(options => options.DataDirectory = _dataDirectory);
}
