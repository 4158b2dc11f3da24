using System.Text;
using Cairn.Storage;
using Cairn.Tests.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Durability;

/// <summary>
/// The store reports every change as its effect, and replaying those effects into a fresh store gives
/// back the same items with the same CAS values: the contract the log and recovery build on.
/// </summary>
public class StoreJournalTests
{
    [Fact]
    public void Every_kind_of_change_is_reported_as_its_effect()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        using var store = StoreTestKit.Create(time);
        var journal = new RecordingJournal();
        store.AttachJournal(journal);

        store.Set("a", "1", flags: 7);
        store.Put(StoreMode.Append, "a", "0");
        store.Incr("a", 5, out _);
        store.Touch("a", 1_800_000_100);
        store.Delete("a");
        store.Delete("missing");
        store.FlushAll(0);
        store.FlushAll(1_800_000_500);

        Assert.Equal(
            [
                "stored a=1 flags=7 exp=0 cas=1",
                "stored a=10 flags=7 exp=0 cas=2",
                "stored a=15 flags=7 exp=0 cas=3",
                "touched a exp=1800000100",
                "removed a",
                "flushed cas<=3",
                "flush scheduled at 1800000500",
            ],
            journal.Entries);
    }

    [Fact]
    public void A_refused_set_and_an_eviction_are_reported_as_removals()
    {
        var journal = new RecordingJournal();
        using (var store = StoreTestKit.Create(maxItemSize: 1024))
        {
            store.Set("big", "x");
            store.AttachJournal(journal);
            Assert.Equal(StoreResult.TooLarge, store.Set("big", new string('v', 2000)));
        }

        Assert.Equal(["removed big"], journal.Entries);

        var evictions = new RecordingJournal();
        using var small = StoreTestKit.Create(memoryLimit: 1024 * 1024, evict: true);
        small.AttachJournal(evictions);
        var value = new string('e', 1000);
        for (var i = 0; i < 5000 && small.GetStatistics().Evictions == 0; i++)
        {
            small.Set($"k{i}", value);
        }

        Assert.True(small.GetStatistics().Evictions > 0);
        Assert.Contains(evictions.Entries, entry => entry.StartsWith("removed k", StringComparison.Ordinal));
    }

    [Fact]
    public void Replaying_the_journal_rebuilds_the_same_items_and_cas_continues_above()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var journal = new RecordingJournal();
        Dictionary<string, StoredItem> before;
        using (var store = StoreTestKit.Create(time))
        {
            store.AttachJournal(journal);
            var random = new Random(42);
            for (var i = 0; i < 3000; i++)
            {
                var key = $"key{random.Next(200)}";
                switch (random.Next(7))
                {
                    case 0: store.Delete(key); break;
                    case 1: store.Put(StoreMode.Append, key, "+"); break;
                    case 2: store.Set(key, random.Next(1000).ToString(), flags: (uint)i); break;
                    case 3: store.Incr(key, 3, out _); break;
                    case 4: store.Touch(key, 1_800_000_000 + random.Next(1, 100)); break;
                    case 5 when i % 500 == 0: store.FlushAll(0); break;
                    default: store.Set(key, new string('v', random.Next(1, 3000)), expiresAt: random.Next(3) == 0 ? 1_800_000_050 : 0); break;
                }

                if (i % 1000 == 999)
                {
                    time.Advance(TimeSpan.FromSeconds(20));
                }
            }

            before = Snapshot(store);
        }

        using var restored = StoreTestKit.Create(time);
        journal.ReplayInto(restored);
        Assert.Equal(before.Keys.Order(), Snapshot(restored).Keys.Order());
        foreach (var (key, item) in Snapshot(restored))
        {
            Assert.Equal(before[key].Value, item.Value);
            Assert.Equal(before[key].Flags, item.Flags);
            Assert.Equal(before[key].ExpiresAt, item.ExpiresAt);
            Assert.Equal(before[key].Cas, item.Cas);
        }

        var highest = before.Values.Select(item => item.Cas).DefaultIfEmpty().Max();
        restored.Set("new", "x");
        Assert.True(restored.Read("new")!.Cas > highest);
    }

    [Fact]
    public void Items_that_expired_while_down_are_not_restored()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var journal = new RecordingJournal();
        using (var store = StoreTestKit.Create(time))
        {
            store.AttachJournal(journal);
            store.Set("short", "x", expiresAt: 1_800_000_010);
            store.Set("long", "y", expiresAt: 1_800_001_000);
        }

        time.Advance(TimeSpan.FromSeconds(60));
        using var restored = StoreTestKit.Create(time);
        journal.ReplayInto(restored);
        Assert.Null(restored.Read("short"));
        Assert.Equal("y", restored.Get("long"));
    }

    [Fact]
    public void Delayed_flush_replays_by_store_time()
    {
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var journal = new RecordingJournal();
        using (var store = StoreTestKit.Create(time))
        {
            store.AttachJournal(journal);
            store.Set("old", "x");
            store.FlushAll(1_800_000_030);
            time.Advance(TimeSpan.FromSeconds(40));
            store.Set("new", "y");
            Assert.Null(store.Read("old"));
        }

        using var restored = StoreTestKit.Create(time);
        journal.ReplayInto(restored);
        Assert.Null(restored.Read("old"));
        Assert.Equal("y", restored.Get("new"));
    }

    [Fact]
    public async Task A_store_that_races_flush_all_ends_the_same_in_memory_and_on_replay()
    {
        var journal = new RecordingJournal();
        using var store = StoreTestKit.Create();
        store.AttachJournal(journal);
        var stop = 0;
        var writer = Task.Run(() =>
        {
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                store.Set($"k{i % 500}", i.ToString());
            }
        });
        for (var f = 0; f < 50; f++)
        {
            store.FlushAll(0);
        }

        Volatile.Write(ref stop, 1);
        await writer;

        using var restored = StoreTestKit.Create();
        journal.ReplayInto(restored);
        var live = Snapshot(store);
        var replayed = Snapshot(restored);
        Assert.Equal(live.Keys.Order(), replayed.Keys.Order());
        foreach (var (key, item) in live)
        {
            Assert.Equal(item.Value, replayed[key].Value);
        }
    }

    private static Dictionary<string, StoredItem> Snapshot(SlabItemStore store)
    {
        var collector = new Collector { Items = [] };
        store.ForEachLiveItem(ref collector);
        return collector.Items;
    }

    private struct Collector : IItemVisitor
    {
        public Dictionary<string, StoredItem> Items;

        public readonly void Visit(scoped in ItemView item) =>
            Items[Encoding.ASCII.GetString(item.Key)] = new StoredItem(Encoding.ASCII.GetString(item.Key), item.Value.ToArray(), item.Flags, item.ExpiresAt, item.Cas);
    }

    /// <summary>Keeps the journal's calls both as text (to assert on) and as replayable effects.</summary>
    private sealed class RecordingJournal : IStoreJournal
    {
        private readonly List<Action<SlabItemStore>> _effects = [];

        public List<string> Entries { get; } = [];

        public long Stored(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale)
        {
            var k = key.ToArray();
            var v = value.ToArray();
            lock (_effects)
            {
                Entries.Add($"stored {Text(k)}={(v.Length <= 20 ? Text(v) : $"<{v.Length}>")} flags={flags} exp={expiresAt} cas={cas}{(stale ? " stale" : "")}");
                _effects.Add(store => store.RestoreSet(k, v, flags, expiresAt, cas, storedAt, stale));
            }

            // Records here are never read back from disk.
            return 0;
        }

        public void Removed(ReadOnlySpan<byte> key)
        {
            var k = key.ToArray();
            lock (_effects)
            {
                Entries.Add($"removed {Text(k)}");
                _effects.Add(store => store.RestoreRemove(k));
            }
        }

        public void Touched(ReadOnlySpan<byte> key, long expiresAt)
        {
            var k = key.ToArray();
            lock (_effects)
            {
                Entries.Add($"touched {Text(k)} exp={expiresAt}");
                _effects.Add(store => store.RestoreTouch(k, expiresAt));
            }
        }

        public void FlushedAll(ulong casUpTo)
        {
            lock (_effects)
            {
                Entries.Add($"flushed cas<={casUpTo}");
                _effects.Add(store => store.RestoreFlushAll(casUpTo));
            }
        }

        public void FlushScheduled(long atUnixSeconds)
        {
            lock (_effects)
            {
                Entries.Add($"flush scheduled at {atUnixSeconds}");
                _effects.Add(store => store.RestoreFlushScheduled(atUnixSeconds));
            }
        }

        public void ReplayInto(SlabItemStore store)
        {
            store.BeginRestore();
            foreach (var effect in _effects)
            {
                effect(store);
            }

            store.CompleteRestore();
        }

        private static string Text(byte[] bytes) => Encoding.ASCII.GetString(bytes);
    }
}
