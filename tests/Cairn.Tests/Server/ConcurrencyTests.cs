using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

public class ConcurrencyTests
{
    /// <summary>The classic "many clients" run: 20 threads x 10 clients x 100 commands, every reply checked.</summary>
    [Fact]
    public async Task Twenty_threads_of_ten_clients_with_a_hundred_commands_each_see_no_errors()
    {
        await using var server = await TestServer.StartAsync();
        var errors = 0;
        var threads = Enumerable.Range(0, 20).Select(thread => Task.Run(async () =>
        {
            var clients = new List<TestClient>();
            try
            {
                for (var c = 0; c < 10; c++)
                {
                    clients.Add(await server.ConnectAsync());
                }

                for (var i = 0; i < 100; i++)
                {
                    for (var c = 0; c < clients.Count; c++)
                    {
                        var key = $"t{thread}c{c}k{i / 2 % 7}";
                        var value = $"{thread}-{c}-{i}";
                        try
                        {
                            if (i % 2 == 0)
                            {
                                await clients[c].RoundTripAsync($"set {key} {i} 0 {value.Length}\r\n{value}\r\n", "STORED\r\n");
                            }
                            else
                            {
                                var previous = $"{thread}-{c}-{i - 1}";
                                await clients[c].RoundTripAsync($"get {key}\r\n", $"VALUE {key} {i - 1} {previous.Length}\r\n{previous}\r\nEND\r\n");
                            }
                        }
                        catch (Exception)
                        {
                            Interlocked.Increment(ref errors);
                            throw;
                        }
                    }
                }
            }
            finally
            {
                clients.ForEach(client => client.Dispose());
            }
        })).ToArray();

        await Task.WhenAll(threads);
        Assert.Equal(0, errors);
    }

    [Fact]
    public async Task Concurrent_incr_on_one_key_loses_no_increment()
    {
        await using var server = await TestServer.StartAsync();
        using (var setup = await server.ConnectAsync())
        {
            await setup.RoundTripAsync("set counter 0 0 1\r\n0\r\n", "STORED\r\n");
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            using var client = await server.ConnectAsync();
            for (var i = 0; i < 250; i++)
            {
                await client.SendAsync("incr counter 1\r\n");
                await client.ReadLineAsync();
            }
        })));

        using var check = await server.ConnectAsync();
        await check.SendAsync("get counter\r\n");
        await check.ReadLineAsync();
        Assert.Equal("2000", (await check.ReadLineAsync()).Trim());
    }
}
