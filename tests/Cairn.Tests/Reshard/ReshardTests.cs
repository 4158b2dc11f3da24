using System.Globalization;
using Cairn.Cli;
using Cairn.Client;
using Cairn.Tests.Cli;
using Cairn.Tests.Client;
using Cairn.Tests.Support;

namespace Cairn.Tests.Reshard;

/// <summary>`cairn reshard` against real servers: three nodes grow to four (and shrink back), with clients writing.</summary>
public sealed class ReshardTests : IAsyncLifetime
{
    private readonly List<TestServer> _servers = [];

    private int[] Ports => [.. _servers.Select(s => s.Port)];

    private string FromList => string.Join(',', Ports.Take(3).Select(p => $"127.0.0.1:{p}"));

    private string ToList => string.Join(',', Ports.Select(p => $"127.0.0.1:{p}"));

    public async Task InitializeAsync()
    {
        for (var i = 0; i < 4; i++)
        {
            _servers.Add(await TestServer.StartAsync());
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Every_item_whose_owner_changes_moves_with_its_flags_and_ttl_and_the_run_verifies()
    {
        const int Items = 20_000;
        await using (var before = Connect(Ports.Take(3)))
        {
            await LoadAsync(before, Items, i => $"v{i}");
            await before.SetAsync("with-ttl", "t", TimeSpan.FromHours(1), 7);
        }

        var (code, output, error) = await RunAsync("reshard", "--from", FromList, "--to", ToList);

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.Contains("verified: every key is on the node the new list places it on", output, StringComparison.Ordinal);
        var moved = MovedCount(output);
        Assert.InRange(moved, Items * 15 / 100, Items * 35 / 100);

        await using var after = Connect(Ports);
        var held = await HeldByNodeAsync(Items);
        Assert.Equal(Items + 1, held.Sum(h => h.Count));
        Assert.Equal(moved, held[3].Count);
        for (var node = 0; node < 4; node++)
        {
            Assert.All(held[node], key => Assert.Equal($"127.0.0.1:{Ports[node]}", after.GetServerForKey(key)));
        }

        var values = await after.GetManyAsync(Keys(Items));
        Assert.Equal(Items, values.Count);
        Assert.All(values, pair => Assert.Equal("v" + pair.Key[4..], pair.Value.ValueAsString()));

        var owner = _servers[Array.IndexOf(Ports, int.Parse(after.GetServerForKey("with-ttl").Split(':')[1], CultureInfo.InvariantCulture))];
        using var direct = await owner.ConnectAsync();
        await direct.SendAsync("mg with-ttl f t v\r\n");
        var reply = (await direct.ReadLineAsync()).TrimEnd().Split(' ');
        Assert.Equal("f7", reply[2]);
        Assert.InRange(long.Parse(reply[3][1..], CultureInfo.InvariantCulture), 3590, 3600);
    }

    [Fact]
    public async Task A_version_written_to_the_new_owner_is_kept_and_the_old_copy_deleted()
    {
        await using var before = Connect(Ports.Take(3));
        await using var after = Connect(Ports);
        var key = Keys(2000).First(k => before.GetServerForKey(k) != after.GetServerForKey(k));
        await before.SetAsync(key, "old");
        await using (var newOwner = Connect([PortOf(after.GetServerForKey(key))]))
        {
            await newOwner.SetAsync(key, "new");
        }

        var (code, output, error) = await RunAsync("reshard", "--from", FromList, "--to", ToList);

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.Contains("1 kept the new owner's newer version", output, StringComparison.Ordinal);
        Assert.Equal("new", await after.GetStringAsync(key));
        await using var oldOwner = Connect([PortOf(before.GetServerForKey(key))]);
        Assert.Null(await oldOwner.GetStringAsync(key));
    }

    [Fact]
    public async Task Writes_through_the_new_list_during_the_move_are_all_there_afterwards()
    {
        const int Items = 20_000;
        await using (var before = Connect(Ports.Take(3)))
        {
            await LoadAsync(before, Items, i => "old");
        }

        await using var after = Connect(Ports);
        using var stop = new CancellationTokenSource();
        var acknowledged = new Dictionary<string, string>();
        var writer = Task.Run(async () =>
        {
            for (var round = 0; !stop.IsCancellationRequested; round++)
            {
                var key = $"key:{Random.Shared.Next(Items)}";
                var value = $"new{round}";
                if (await after.SetAsync(key, value) == CairnStoreResult.Stored)
                {
                    acknowledged[key] = value;
                }
            }
        });

        var (code, output, error) = await RunAsync("reshard", "--from", FromList, "--to", ToList, "--batch", "20");
        await stop.CancelAsync();
        await writer;

        Assert.True(code == ExitCodes.Success, output + error);
        Assert.NotEmpty(acknowledged);
        var values = await after.GetManyAsync(Keys(Items));
        Assert.Equal(Items, values.Count);
        Assert.All(Keys(Items), key => Assert.Equal(acknowledged.GetValueOrDefault(key, "old"), values[key].ValueAsString()));
        Assert.Equal(Items, (await HeldByNodeAsync(Items)).Sum(h => h.Count));
    }

    [Fact]
    public async Task An_interrupted_run_loses_nothing_and_the_next_run_finishes_it()
    {
        const int Items = 30_000;
        await using (var before = Connect(Ports.Take(3)))
        {
            await LoadAsync(before, Items, i => $"v{i}");
        }

        using var interrupt = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            using var newNode = await _servers[3].ConnectAsync();
            while (await CurrentItemsAsync(newNode) < 200)
            {
                await Task.Delay(5);
            }

            await interrupt.CancelAsync();
        });
        var first = await RunAsync(interrupt.Token, "reshard", "--from", FromList, "--to", ToList, "--batch", "10");
        await watcher;

        Assert.True(first.Code == ExitCodes.Interrupted, first.Output + first.Error);
        Assert.Contains("run the same command again", first.Error, StringComparison.Ordinal);
        var between = await HeldByNodeAsync(Items);
        Assert.Equal(Items, between.SelectMany(h => h).Distinct().Count());

        var second = await RunAsync("reshard", "--from", FromList, "--to", ToList);
        Assert.True(second.Code == ExitCodes.Success, second.Output + second.Error);
        await using var after = Connect(Ports);
        var values = await after.GetManyAsync(Keys(Items));
        Assert.All(Keys(Items), key => Assert.Equal("v" + key[4..], values[key].ValueAsString()));
        Assert.Equal(Items, (await HeldByNodeAsync(Items)).Sum(h => h.Count));
    }

    [Fact]
    public async Task Removing_a_node_moves_all_its_items_to_the_others()
    {
        await using (var before = Connect(Ports))
        {
            await LoadAsync(before, 4000, i => $"v{i}");
        }

        var (code, output, error) = await RunAsync("reshard", "--from", ToList, "--to", FromList);

        Assert.True(code == ExitCodes.Success, output + error);
        var held = await HeldByNodeAsync(4000);
        Assert.Empty(held[3]);
        Assert.Equal(4000, held.Sum(h => h.Count));
    }

    [Fact]
    public async Task A_dry_run_reports_the_moves_and_changes_nothing()
    {
        await using (var before = Connect(Ports.Take(3)))
        {
            await LoadAsync(before, 2000, i => "x");
        }

        var (code, output, _) = await RunAsync("reshard", "--from", FromList, "--to", ToList, "--dry-run");

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("scanned 2,000 items on 4 nodes", output, StringComparison.Ordinal);
        Assert.Empty((await HeldByNodeAsync(2000))[3]);
    }

    [Theory]
    [InlineData("--to", "127.0.0.1:1:1,", "--to '127.0.0.1:1:1,' has an empty entry")]
    [InlineData("--to", "127.0.0.1:99999", "--to: '127.0.0.1:99999' has a bad port '99999'")]
    [InlineData("--to", "127.0.0.1:1:0", "--to: '127.0.0.1:1:0' has a bad weight '0'")]
    [InlineData("--to", "127.0.0.1:1,127.0.0.1:1", "--to names 127.0.0.1:1 twice")]
    [InlineData("--to", "127.0.0.1:1:2", "127.0.0.1:1 has weight 1 in --from and 2 in --to")]
    [InlineData("--hash", "crc32", "--hash must be md5 or one-at-a-time, not 'crc32'")]
    public async Task Bad_input_is_refused_before_any_node_is_contacted(string option, string value, string message)
    {
        string[] args = option == "--to"
            ? ["reshard", "--from", "127.0.0.1:1,127.0.0.1:2", option, value]
            : ["reshard", "--from", "127.0.0.1:1", "--to", "127.0.0.1:2", option, value];

        var (code, _, error) = await RunAsync(args);

        Assert.Equal(ExitCodes.Usage, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_node_stops_the_run_before_anything_moves()
    {
        await using (var before = Connect(Ports.Take(3)))
        {
            await LoadAsync(before, 2000, i => "x");
        }

        var closed = CliRun.ClosedPort();
        var (code, _, error) = await RunAsync("reshard", "--from", FromList, "--to", $"{FromList},127.0.0.1:{closed}");

        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains($"cannot connect to 127.0.0.1:{closed}", error, StringComparison.Ordinal);
        Assert.Equal(2000, (await HeldByNodeAsync(2000)).Sum(h => h.Count));
    }

    private static CairnClient Connect(IEnumerable<int> ports) =>
        ClientRoundTripTests.Connect(ports, connections: 4, mode: KetamaMode.KetamaWeighted);

    private static string[] Keys(int count) => [.. Enumerable.Range(0, count).Select(i => $"key:{i}")];

    private static async Task LoadAsync(CairnClient client, int count, Func<int, string> value)
    {
        foreach (var chunk in Enumerable.Range(0, count).Chunk(500))
        {
            await Task.WhenAll(chunk.Select(i => client.SetAsync($"key:{i}", value(i), flags: (uint)(i % 3))));
        }
    }

    /// <summary>Which of the test's keys each node holds, asked of each node directly.</summary>
    private async Task<List<string>[]> HeldByNodeAsync(int count)
    {
        var held = new List<string>[_servers.Count];
        for (var node = 0; node < _servers.Count; node++)
        {
            await using var direct = Connect([Ports[node]]);
            held[node] = [.. (await direct.GetManyAsync(Keys(count).Append("with-ttl"))).Keys];
        }

        return held;
    }

    private static async Task<long> CurrentItemsAsync(TestClient client)
    {
        await client.SendAsync("stats\r\n");
        long items = 0;
        for (var line = (await client.ReadLineAsync()).TrimEnd(); line != "END"; line = (await client.ReadLineAsync()).TrimEnd())
        {
            if (line.StartsWith("STAT curr_items ", StringComparison.Ordinal))
            {
                items = long.Parse(line["STAT curr_items ".Length..], CultureInfo.InvariantCulture);
            }
        }

        return items;
    }

    private static long MovedCount(string output)
    {
        var line = output.Split('\n').First(l => l.StartsWith("moved ", StringComparison.Ordinal));
        return long.Parse(line.Split(' ')[1], NumberStyles.AllowThousands, CultureInfo.InvariantCulture);
    }

    private static int PortOf(string address) => int.Parse(address.Split(':')[1], CultureInfo.InvariantCulture);

    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) =>
        RunAsync(CancellationToken.None, args);

    private static async Task<(int Code, string Output, string Error)> RunAsync(CancellationToken cancellation, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApplication.RunAsync(args, TextReader.Null, output, error, cancellation).WaitAsync(TimeSpan.FromSeconds(120));
        return (code, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }
}
