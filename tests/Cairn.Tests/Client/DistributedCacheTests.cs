using System.Text;
using Cairn.Client;
using Cairn.Tests.Support;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection;

namespace Cairn.Tests.Client;

public sealed class DistributedCacheTests
{
    [Fact]
    public async Task Round_trip_refresh_and_remove()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = ClientRoundTripTests.Connect([server.Port]);
        var cache = new CairnDistributedCache(client);

        await cache.SetAsync("a", Encoding.UTF8.GetBytes("alpha"), new DistributedCacheEntryOptions());
        Assert.Equal("alpha", Encoding.UTF8.GetString((await cache.GetAsync("a"))!));
        cache.Set("b", [1, 2, 3], new DistributedCacheEntryOptions());
        Assert.Equal([1, 2, 3], cache.Get("b"));
        cache.Refresh("b");
        await cache.RefreshAsync("missing");
        cache.Remove("b");
        Assert.Null(cache.Get("b"));
        await cache.RemoveAsync("a");
        Assert.Null(await cache.GetAsync("a"));
    }

    [Fact]
    public async Task Absolute_expiration_becomes_the_ttl()
    {
        var time = new ManualTimeProvider();
        await using var server = await TestServer.StartAsync(time: time);
        await using var client = ClientRoundTripTests.Connect([server.Port]);
        var cache = new CairnDistributedCache(client, time);

        await cache.SetAsync("rel", [1], new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(10) });
        await cache.SetAsync("abs", [2], new DistributedCacheEntryOptions { AbsoluteExpiration = time.UtcNow.AddSeconds(20) });
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.NotNull(await cache.GetAsync("rel"));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(await cache.GetAsync("rel"));
        Assert.NotNull(await cache.GetAsync("abs"));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await cache.GetAsync("abs"));
    }

    [Fact]
    public async Task Sliding_expiration_restarts_on_each_read_but_never_passes_the_absolute_one()
    {
        var time = new ManualTimeProvider();
        await using var server = await TestServer.StartAsync(time: time);
        await using var client = ClientRoundTripTests.Connect([server.Port]);
        var cache = new CairnDistributedCache(client, time);

        await cache.SetAsync("slide", [1], new DistributedCacheEntryOptions { SlidingExpiration = TimeSpan.FromSeconds(10) });
        await cache.SetAsync("capped", [2], new DistributedCacheEntryOptions
        {
            SlidingExpiration = TimeSpan.FromSeconds(10),
            AbsoluteExpirationRelativeToNow = TimeSpan.FromSeconds(15),
        });
        for (var i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(8));
            Assert.NotNull(await cache.GetAsync("slide"));
        }

        // 24 s in: the sliding-only entry lives on, the capped one passed its absolute 15 s.
        Assert.Null(await cache.GetAsync("capped"));
        await cache.RefreshAsync("slide");
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Null(await cache.GetAsync("slide"));
    }

    [Fact]
    public async Task AddCairnCache_registers_the_client_and_the_cache()
    {
        await using var server = await TestServer.StartAsync();
        var services = new ServiceCollection();
        services.AddCairnCache(options =>
        {
            options.Servers.Clear();
            options.Servers.Add($"127.0.0.1:{server.Port}");
        });
        await using var provider = services.BuildServiceProvider();
        var cache = provider.GetRequiredService<IDistributedCache>();
        Assert.IsType<CairnDistributedCache>(cache);
        await cache.SetStringAsync("di", "works");
        Assert.Equal("works", await cache.GetStringAsync("di"));
        Assert.Equal($"127.0.0.1:{server.Port}", provider.GetRequiredService<CairnClient>().Servers[0]);
    }
}
