using Cairn.Tests.Support;

namespace Cairn.Tests.Durability;

/// <summary>Durability seen from outside: the real executable, its data directory, and what it says.</summary>
public sealed class ServerDurabilityTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "cairn-durable-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task A_second_server_on_the_same_directory_is_refused_with_a_clear_message()
    {
        using var first = await ChildServer.StartAsync(["--data-dir", _dataDirectory]);
        var (exitCode, output) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "-p", "0", "--data-dir", _dataDirectory], TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, exitCode);
        Assert.Contains(Path.GetFullPath(_dataDirectory).TrimEnd('/'), output);
        Assert.Contains("another", output, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Compact_command_rewrites_the_log_and_keeps_every_item()
    {
        using (var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "--segment-size", "1"]))
        using (var client = await LineClient.ConnectAsync(server.EndPoint))
        {
            var value = new string('x', 1000);
            for (var round = 0; round < 5; round++)
            {
                for (var i = 0; i < 500; i++)
                {
                    await client.SendAsync($"set k{i} {round} 0 {value.Length}\r\n{value}\r\n");
                    Assert.Equal("STORED", await client.ReadLineAsync());
                }
            }

            await client.SendAsync("delete k0\r\n");
            Assert.Equal("DELETED", await client.ReadLineAsync());
            var before = LogBytes();
            await client.SendAsync("compact\r\n");
            Assert.Equal("OK", await client.ReadLineAsync());
            Assert.True(LogBytes() < before / 2, $"log was {before} bytes, {LogBytes()} after compaction");
            await client.SendAsync("set after 0 0 1\r\ny\r\n");
            Assert.Equal("STORED", await client.ReadLineAsync());
            await server.KillHardAsync();
        }

        using var restarted = await ChildServer.StartAsync(["--data-dir", _dataDirectory]);
        using var check = await LineClient.ConnectAsync(restarted.EndPoint);
        Assert.Null((await check.GetAsync("k0")).Value);
        Assert.Equal((new string('x', 1000), 4u), await check.GetAsync("k499"));
        Assert.Equal(("y", 0u), await check.GetAsync("after"));
    }

    [Theory]
    [InlineData("compact-after-seal")]
    [InlineData("compact-after-snapshot-write")]
    [InlineData("compact-after-snapshot-rename")]
    [InlineData("compact-after-manifest")]
    [InlineData("compact-before-delete")]
    [InlineData("compact-mid-delete")]
    public async Task A_crash_at_any_compaction_step_restarts_into_the_full_state_with_no_stray_files(string step)
    {
        var environment = new Dictionary<string, string> { ["CAIRN_CRASH_AT"] = step };
        using (var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "--segment-size", "1"], environment))
        {
            using var client = await LineClient.ConnectAsync(server.EndPoint);
            for (var i = 0; i < 300; i++)
            {
                await client.SendAsync($"set k{i} {i} 0 {i.ToString().Length}\r\n{i}\r\n");
                Assert.Equal("STORED", await client.ReadLineAsync());
            }

            for (var i = 0; i < 300; i += 3)
            {
                await client.SendAsync($"delete k{i}\r\n");
                Assert.Equal("DELETED", await client.ReadLineAsync());
            }

            await client.SendAsync("compact\r\n");
            await Assert.ThrowsAnyAsync<IOException>(client.ReadLineAsync);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.Process.WaitForExitAsync(timeout.Token);
        }

        using var restarted = await ChildServer.StartAsync(["--data-dir", _dataDirectory]);
        using var check = await LineClient.ConnectAsync(restarted.EndPoint);
        for (var i = 0; i < 300; i++)
        {
            var (value, flags) = await check.GetAsync($"k{i}");
            if (i % 3 == 0)
            {
                Assert.Null(value);
            }
            else
            {
                Assert.Equal((i.ToString(), (uint)i), (value, flags));
            }
        }

        var unexpected = Directory.GetFiles(_dataDirectory)
            .Select(Path.GetFileName)
            .Where(name => name is not ("MANIFEST" or "LOCK" or Cairn.Replication.ReplicationIdentity.PrimaryIdFile) && !(name!.StartsWith("log-", StringComparison.Ordinal) && name.EndsWith(".seg", StringComparison.Ordinal)))
            .ToList();
        Assert.Empty(unexpected);
    }

    [Fact]
    public async Task Torn_tail_after_a_crash_is_cut_and_the_server_starts_with_every_complete_record()
    {
        using (var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory]))
        using (var client = await LineClient.ConnectAsync(server.EndPoint))
        {
            for (var i = 0; i < 50; i++)
            {
                await client.SendAsync($"set k{i} 0 0 5\r\nvalue\r\n");
                Assert.Equal("STORED", await client.ReadLineAsync());
            }

            await server.KillHardAsync();
        }

        // Half a record of garbage at the end, as a crash mid-write leaves it.
        var segment = Directory.GetFiles(_dataDirectory, "log-*.seg").Order(StringComparer.Ordinal).Last();
        await File.AppendAllTextAsync(segment, "\u0040\u0000\u0000\u0000garbage");

        using var restarted = await ChildServer.StartAsync(["--data-dir", _dataDirectory]);
        using var check = await LineClient.ConnectAsync(restarted.EndPoint);
        Assert.Equal(("value", 0u), await check.GetAsync("k49"));
        Assert.Single(Directory.GetFiles(_dataDirectory, "*.torn-*"));
    }

    [Fact]
    public async Task Damage_in_the_middle_is_refused_naming_file_and_offset_unless_truncation_is_allowed()
    {
        using (var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory]))
        using (var client = await LineClient.ConnectAsync(server.EndPoint))
        {
            for (var i = 0; i < 100; i++)
            {
                await client.SendAsync($"set k{i} 0 0 5\r\nvalue\r\n");
                Assert.Equal("STORED", await client.ReadLineAsync());
            }

            await server.KillHardAsync();
        }

        var segment = Directory.GetFiles(_dataDirectory, "log-*.seg").Order(StringComparer.Ordinal).Last();
        var bytes = await File.ReadAllBytesAsync(segment);
        var middle = bytes.Length / 2;
        bytes[middle] ^= 0xFF;
        await File.WriteAllBytesAsync(segment, bytes);

        var (exitCode, output) = await ExternalTool.RunAsync("dotnet", [ChildServer.ServerDll, "-p", "0", "--data-dir", _dataDirectory], TimeSpan.FromSeconds(60));
        Assert.Equal(65, exitCode);
        Assert.Contains(Path.GetFileName(segment), output);
        Assert.Contains("--truncate-corrupt-log", output);

        using var repaired = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "--truncate-corrupt-log"]);
        using var check = await LineClient.ConnectAsync(repaired.EndPoint);
        Assert.Equal(("value", 0u), await check.GetAsync("k0"));
        Assert.Null((await check.GetAsync("k99")).Value);
    }

    private long LogBytes() => Directory.GetFiles(_dataDirectory, "log-*.seg").Sum(file => new FileInfo(file).Length);
}
