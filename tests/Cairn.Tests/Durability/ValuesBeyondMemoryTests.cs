using System.Text;
using Cairn.Storage;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;
using Cairn.Storage.Tiering;
using Cairn.Tests.Storage;

namespace Cairn.Tests.Durability;

/// <summary>Values beyond -m: the coldest stay only in the log, and every acknowledged value still reads back.</summary>
public sealed class ValuesBeyondMemoryTests : IDisposable
{
    private const long MemoryLimit = 4L * 1024 * 1024;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cairn-tiered-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Five_times_the_memory_limit_in_values_reads_back_before_and_after_restart_and_compaction()
    {
        // Three sizes, so some classes run out of anything to move to disk and whole values go straight to the log.
        var keys = Enumerable.Range(0, 12_000).Select(i => $"key:{i}").ToArray();
        long written = 0;
        using (var store = CreateStore())
        using (var durable = Open(store))
        {
            foreach (var key in keys)
            {
                var value = ValueFor(key);
                Assert.Equal(StoreResult.Stored, store.Set(key, value));
                written += value.Length;
            }

            await durable.WaitForDurableAsync();
            Assert.True(written >= 5 * MemoryLimit, $"only {written} bytes written");
            var tier = store.GetTierStatistics();
            Assert.True(tier.ItemsOnDiskOnly > keys.Length / 2, $"only {tier.ItemsOnDiskOnly} of {keys.Length} values are on disk only");
            Assert.Equal(keys.Length, store.GetStatistics().CurrentItems);
            AssertAllReadBack(store, keys);
            Assert.True(store.GetTierStatistics().ColdReads > 0);
            Assert.Equal(0, store.GetTierStatistics().ColdReadErrors);
        }

        using (var store = CreateStore())
        using (var durable = Open(store))
        {
            Assert.Equal(keys.Length, store.GetStatistics().CurrentItems);
            Assert.True(store.GetTierStatistics().ItemsOnDiskOnly > 0, "a restart brought every value back into 4 MiB");
            AssertAllReadBack(store, keys);

            // Overwrite some so compaction has something to drop, then read everything from the snapshot.
            for (int i = 0; i < keys.Length; i += 3)
            {
                store.Set(keys[i], ValueFor(keys[i]) + "!");
            }

            await durable.CompactAsync();
            AssertAllReadBack(store, keys, overwrittenEvery: 3);
            Assert.Equal(0, store.GetTierStatistics().ColdReadErrors);
            await durable.WaitForDurableAsync();
        }

        using (var store = CreateStore())
        using (Open(store))
        {
            AssertAllReadBack(store, keys, overwrittenEvery: 3);
            Assert.Equal(0, store.GetTierStatistics().ColdReadErrors);
        }
    }

    [Fact]
    public async Task Operations_that_rewrite_a_cold_value_read_it_first()
    {
        using var store = CreateStore();
        using var durable = Open(store);
        store.Set("counter", "41");
        store.Set("text", "middle");
        store.Set("tail", "one");
        FillUntilCold(store, "counter", "text", "tail");

        Assert.Equal(ArithmeticResult.Ok, store.Incr("counter", 1, out var number));
        Assert.Equal(42UL, number);
        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Prepend, "text", "<"));
        FillUntilCold(store, "text");
        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Append, "text", ">"));
        Assert.True(store.Touch("tail", 0));
        Assert.Equal(DeleteResult.Deleted, store.Delete("tail"));
        await durable.WaitForDurableAsync();

        Assert.Equal("42", store.Get("counter"));
        Assert.Equal("<middle>", store.Get("text"));
        Assert.Null(store.Get("tail"));
    }

    [Fact]
    public async Task A_cold_read_holds_no_lock_and_never_brings_back_a_value_overwritten_meanwhile()
    {
        using var store = CreateStore();
        using var durable = Open(store);
        store.Set("slow", "old value");
        FillUntilCold(store, "slow");
        await durable.WaitForDurableAsync();

        using var reading = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        store.AttachColdValues(new BlockingSource(new LogColdValues(durable.Log), reading, release));
        var read = Task.Run(() => store.Get("slow"));
        Assert.True(reading.Wait(TimeSpan.FromSeconds(10)), "the get never reached the disk");

        // With the disk read stalled, every shard (the slow key's included) still serves, and the key itself can change.
        for (int i = 0; i < 2_000; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Set($"other:{i}", "x"));
            Assert.Equal("x", store.Get($"other:{i}"));
        }

        Assert.Equal(StoreResult.Stored, store.Set("slow", "new value"));
        release.Set();
        Assert.Equal("old value", await read.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("new value", store.Get("slow"));
    }

    [Fact]
    public async Task A_cold_value_damaged_on_disk_is_not_served_and_is_counted()
    {
        string victim = "victim";
        string damagedValue = "the-value-that-gets-damaged-" + new string('v', 400);
        using (var store = CreateStore())
        using (var durable = Open(store))
        {
            store.Set(victim, damagedValue);
            FillUntilCold(store, victim);
            await durable.WaitForDurableAsync();

            Assert.True(FlipByteOf(damagedValue), "the value was not found in any segment");
            Assert.Null(store.Get(victim));
            Assert.Equal(1, store.GetTierStatistics().ColdReadErrors);
            Assert.Equal(victim.Length + damagedValue.Length - $"filler:{victim}:0".Length, store.Get($"filler:{victim}:0")!.Length);
        }

        // Stopped with the damage in place: the restart reports it instead of serving from the damaged segment.
        using var reopened = CreateStore();
        var error = Assert.Throws<LogCorruptionException>(() => Open(reopened));
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public async Task The_disk_limit_refuses_writes_with_a_reason_and_keeps_what_was_acknowledged()
    {
        using var store = CreateStore();
        using var durable = DurableStore.Open(store, new DurabilityOptions
        {
            DataDirectory = _directory,
            DiskLimit = 2 * 1024 * 1024,
            SegmentSize = 256 * 1024,
            CompactCheckInterval = TimeSpan.FromHours(1),
        });

        var acknowledged = new List<string>();
        for (int i = 0; durable.IsAcceptingWrites; i++)
        {
            Assert.True(i < 10_000, "the limit never took effect");
            var key = $"k{i}";
            store.Set(key, ValueFor(key));
            await durable.WaitForDurableAsync();
            acknowledged.Add(key);
        }

        Assert.Contains("--disk-limit", durable.FailureReason);
        Assert.True(durable.Log.LogBytes >= 2 * 1024 * 1024);
        AssertAllReadBack(store, acknowledged.ToArray());
    }

    [Fact]
    public async Task Without_the_option_a_full_memory_still_refuses()
    {
        using var store = StoreTestKit.Create(memoryLimit: 2 * 1024 * 1024);
        using var durable = Open(store);
        var result = StoreResult.Stored;
        for (int i = 0; i < 20_000 && result == StoreResult.Stored; i++)
        {
            result = store.Set($"k{i}", new string('x', 1000));
        }

        await durable.WaitForDurableAsync();
        Assert.Equal(StoreResult.OutOfMemory, result);
        Assert.Equal(0, store.GetTierStatistics().ItemsOnDiskOnly);
    }

    /// <summary>Reads through the log, but first says it is reading and waits to be let go (a slow disk, on demand).</summary>
    private sealed class BlockingSource(IColdValueSource inner, ManualResetEventSlim reading, ManualResetEventSlim release) : IColdValueSource
    {
        public ColdReadStatus Read(long location, ReadOnlySpan<byte> key, ulong cas, Span<byte> value)
        {
            if (!release.IsSet)
            {
                reading.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            }

            return inner.Read(location, key, cas, value);
        }
    }

    private static string ValueFor(string key)
    {
        int size = (Math.Abs(key.GetHashCode(StringComparison.Ordinal)) % 3) switch { 0 => 120, 1 => 1500, _ => 6000 };
        var builder = new StringBuilder(size);
        while (builder.Length < size)
        {
            builder.Append(key).Append('|');
        }

        return builder.ToString(0, size);
    }

    private static void AssertAllReadBack(SlabItemStore store, string[] keys, int overwrittenEvery = 0)
    {
        for (int i = 0; i < keys.Length; i++)
        {
            var expected = ValueFor(keys[i]) + (overwrittenEvery > 0 && i % overwrittenEvery == 0 ? "!" : "");
            var actual = store.Get(keys[i]);
            Assert.True(expected == actual, $"{keys[i]}: expected {expected.Length} bytes, read {actual?.Length.ToString() ?? "nothing"}");
        }
    }

    /// <summary>
    /// Writes filler values of each key's size until every key named is only on disk: room is made in the slab class
    /// that needs it, so only values of the same class leave memory for it.
    /// </summary>
    private static void FillUntilCold(SlabItemStore store, params string[] keys)
    {
        foreach (var key in keys)
        {
            Assert.True(store.TryInspect(Encoding.ASCII.GetBytes(key), out var inspection), key + " is gone");
            for (int i = 0; !IsOnDiskOnly(store, key); i++)
            {
                Assert.True(i < 200_000, key + " never left memory");
                var fillerKey = $"filler:{key}:{i}";
                store.Set(fillerKey, Filler(key, i, inspection));
            }
        }

        Assert.All(keys, key => Assert.True(IsOnDiskOnly(store, key), key + " came back into memory"));
    }

    /// <summary>Key and value as long as the target's together, so the filler lands in its slab class.</summary>
    private static string Filler(string key, int i, ItemInspection target) =>
        new('f', Math.Max(1, target.KeyLength + target.ValueLength - $"filler:{key}:{i}".Length));

    private static bool IsOnDiskOnly(SlabItemStore store, string key)
    {
        // Reading would bring it back; inspection does not.
        Assert.True(store.TryInspect(Encoding.ASCII.GetBytes(key), out var inspection), key + " is gone");
        return inspection.SlabClassId == store.ColdClassId;
    }

    private bool FlipByteOf(string value)
    {
        var needle = Encoding.ASCII.GetBytes(value);
        foreach (var path in Directory.GetFiles(_directory, "*.seg"))
        {
            var bytes = File.ReadAllBytes(path);
            int at = bytes.AsSpan().IndexOf(needle);
            if (at >= 0)
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
                file.Position = at + 5;
                file.WriteByte((byte)(bytes[at + 5] ^ 0xFF));
                return true;
            }
        }

        return false;
    }

    private static SlabItemStore CreateStore()
    {
        var options = StoreTestKit.Options(memoryLimit: MemoryLimit);
        options.ValuesBeyondMemory = true;
        return new SlabItemStore(options);
    }

    private DurableStore Open(SlabItemStore store) =>
        DurableStore.Open(store, new DurabilityOptions { DataDirectory = _directory, SegmentSize = 1024 * 1024, CompactCheckInterval = TimeSpan.FromHours(1) });
}
