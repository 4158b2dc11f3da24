using System.Globalization;
using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Durability;

/// <summary>Values beyond -m seen from a client: replies in order, the settings and counters, and the two refusals.</summary>
public sealed class ValuesOnDiskServerTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "cairn-values-on-disk-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Cold_reads_pipelined_between_hot_ones_come_back_in_order()
    {
        using var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "-m", "1"]);
        using var client = await LineClient.ConnectAsync(server.EndPoint);
        const int Keys = 3000;
        await SetManyAsync(client, Keys);
        Assert.Equal("values_to_disk", await SettingAsync(client, "memory_full"));
        Assert.True(long.Parse(await client.StatAsync("items_on_disk_only"), CultureInfo.InvariantCulture) > Keys / 2);
        long bytes = long.Parse(await client.StatAsync("bytes"), CultureInfo.InvariantCulture);
        long inMemory = long.Parse(await client.StatAsync("bytes_in_memory"), CultureInfo.InvariantCulture);
        long onDiskOnly = long.Parse(await client.StatAsync("value_bytes_on_disk_only"), CultureInfo.InvariantCulture);
        Assert.Equal(bytes, inMemory + onDiskOnly);
        Assert.InRange(inMemory, 1, 2 * 1024 * 1024);

        // The oldest keys left memory, the newest did not: interleave them in one write, in three protocols' shapes.
        var request = new StringBuilder();
        var expected = new List<string>();
        for (int i = 0; i < 40; i++)
        {
            int cold = i;
            int hot = Keys - 1 - i;
            request.Append(CultureInfo.InvariantCulture, $"get k{hot}\r\nget k{cold}\r\nmg k{cold + 100} v f\r\ngets k{cold + 200} k{hot}\r\n");
            expected.AddRange([$"VALUE k{hot} {hot} 1000", ValueFor(hot), "END"]);
            expected.AddRange([$"VALUE k{cold} {cold} 1000", ValueFor(cold), "END"]);
            expected.AddRange([$"VA 1000 f{cold + 100}", ValueFor(cold + 100)]);
            expected.Add("CAS-LINE k" + (cold + 200));
            expected.AddRange([ValueFor(cold + 200), "CAS-LINE k" + hot, ValueFor(hot), "END"]);
        }

        await client.SendAsync(request.ToString());
        foreach (var line in expected)
        {
            var actual = await client.ReadLineAsync();
            if (line.StartsWith("CAS-LINE ", StringComparison.Ordinal))
            {
                var key = line["CAS-LINE ".Length..];
                Assert.StartsWith($"VALUE {key} {key[1..]} 1000 ", actual);
            }
            else
            {
                Assert.Equal(line, actual);
            }
        }

        Assert.True(long.Parse(await client.StatAsync("cold_reads"), CultureInfo.InvariantCulture) >= 120);
        Assert.Equal("0", await client.StatAsync("cold_read_errors"));
    }

    [Fact]
    public async Task The_disk_limit_refuses_writes_in_memcached_words_and_reads_go_on()
    {
        using var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "--disk-limit", "1", "--segment-size", "1"]);
        using var client = await LineClient.ConnectAsync(server.EndPoint);
        string reply = "STORED";
        int stored = 0;
        for (; stored < 5000; stored++)
        {
            await client.SendAsync($"set k{stored} {stored} 0 1000\r\n{ValueFor(stored)}\r\n");
            reply = await client.ReadLineAsync();
            if (reply != "STORED")
            {
                break;
            }
        }

        Assert.Matches(@"^SERVER_ERROR writes refused: the log holds \d+ bytes, at its --disk-limit of 1048576$", reply);
        await client.SendAsync("get k0\r\n");
        Assert.Equal("VALUE k0 0 1000", await client.ReadLineAsync());
        Assert.Equal(ValueFor(0), await client.ReadLineAsync());
        Assert.Equal("END", await client.ReadLineAsync());
        Assert.Equal("1048576", await SettingAsync(client, "disk_limit"));
        Assert.Equal("0", await client.StatAsync("log_accepting_writes"));
    }

    [Fact]
    public async Task Dash_capital_m_still_refuses_at_the_memory_limit()
    {
        using var server = await ChildServer.StartAsync(["--data-dir", _dataDirectory, "-m", "1", "-M"]);
        using var client = await LineClient.ConnectAsync(server.EndPoint);
        Assert.Equal("refuse", await SettingAsync(client, "memory_full"));
        string reply = "STORED";
        for (int i = 0; i < 3000 && reply == "STORED"; i++)
        {
            await client.SendAsync($"set k{i} 0 0 1000\r\n{ValueFor(i)}\r\n");
            reply = await client.ReadLineAsync();
        }

        Assert.Equal("SERVER_ERROR out of memory storing object", reply);
        Assert.Equal("0", await client.StatAsync("items_on_disk_only"));
    }

    private static string ValueFor(int i) => string.Concat(Enumerable.Repeat($"value-{i}-", 200))[..1000];

    private static async Task SetManyAsync(LineClient client, int keys)
    {
        const int Pipeline = 100;
        for (int start = 0; start < keys; start += Pipeline)
        {
            var batch = new StringBuilder();
            for (int i = start; i < start + Pipeline; i++)
            {
                batch.Append(CultureInfo.InvariantCulture, $"set k{i} {i} 0 1000\r\n{ValueFor(i)}\r\n");
            }

            await client.SendAsync(batch.ToString());
            for (int i = start; i < start + Pipeline; i++)
            {
                Assert.Equal("STORED", await client.ReadLineAsync());
            }
        }
    }

    private static async Task<string> SettingAsync(LineClient client, string name)
    {
        await client.SendAsync("stats settings\r\n");
        string? found = null;
        for (var line = await client.ReadLineAsync(); line != "END"; line = await client.ReadLineAsync())
        {
            var parts = line.Split(' ');
            if (parts[1] == name)
            {
                found = parts[2];
            }
        }

        return found ?? throw new InvalidOperationException("stats settings has no " + name);
    }
}
