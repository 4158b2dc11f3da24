using Cairn.Storage.Durability;
using Cairn.Tests.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Durability;

public sealed class DurableStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cairn-durable-store-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Background_compaction_starts_once_dead_bytes_pass_the_threshold()
    {
        using var store = StoreTestKit.Create();
        using var durable = DurableStore.Open(store, new DurabilityOptions
        {
            DataDirectory = _directory,
            CompactMinimumBytes = 64 * 1024,
            CompactDeadRatio = 0.5,
            CompactCheckInterval = TimeSpan.FromMilliseconds(50),
        });

        var value = new string('x', 500);
        for (var round = 0; round < 10; round++)
        {
            for (var i = 0; i < 100; i++)
            {
                store.Set($"k{i}", value);
            }
        }

        await durable.WaitForDurableAsync();
        for (var wait = 0; wait < 200 && durable.Log.GetStatistics().Compactions == 0; wait++)
        {
            await Task.Delay(50);
        }

        var statistics = durable.Log.GetStatistics();
        Assert.True(statistics.Compactions > 0, "no background compaction ran");
        Assert.True(statistics.LogBytes < 10 * 100 * 500 / 2, $"log is still {statistics.LogBytes} bytes");
    }

    [Fact]
    public async Task A_pending_delayed_flush_survives_compaction_and_restart()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var options = new DurabilityOptions { DataDirectory = _directory, Time = time, CompactCheckInterval = TimeSpan.FromHours(1) };
        using (var store = StoreTestKit.Create(time))
        using (var durable = DurableStore.Open(store, options))
        {
            store.Set("old", "x");
            store.FlushAll(1_800_000_100);
            await durable.CompactAsync();
            await durable.WaitForDurableAsync();
        }

        time.Advance(TimeSpan.FromSeconds(200));
        using var restored = StoreTestKit.Create(time);
        using var reopened = DurableStore.Open(restored, options);
        Assert.Null(restored.Read("old"));
        restored.Set("new", "y");
        Assert.Equal("y", restored.Get("new"));
    }
}
