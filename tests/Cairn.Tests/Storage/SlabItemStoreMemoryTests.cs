using System.Buffers;
using System.Runtime.CompilerServices;
using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

public sealed class SlabItemStoreMemoryTests
{
    private const long TwoMiB = 2L * 1024 * 1024;
    private const int ValueSize = 1000;

    private readonly ManualTimeProvider _time = new();

    [Fact]
    public void Item_exactly_at_max_item_size_is_stored_and_one_byte_more_is_too_large()
    {
        // memcached counts a 48-byte header, the CAS, the key's NUL and the trailing "\r\n" against -I, and 4 more with flags.
        using var store = StoreTestKit.Create(maxItemSize: 1000);

        Assert.Equal(StoreResult.Stored, store.Set("k", new string('v', 1000 - 1 - 59)));
        Assert.Equal(StoreResult.TooLarge, store.Set("j", new string('v', 1000 - 1 - 59 + 1)));
        Assert.Equal(StoreResult.Stored, store.Set("f", new string('v', 1000 - 1 - 63), flags: 1));
        Assert.Equal(StoreResult.TooLarge, store.Set("j", new string('v', 1000 - 1 - 63 + 1), flags: 1));

        Assert.Null(store.Get("j"));
    }

    [Fact]
    public void Too_large_set_removes_the_existing_item()
    {
        using var store = StoreTestKit.Create(maxItemSize: 1000);
        store.Set("k", "old");

        Assert.Equal(StoreResult.TooLarge, store.Set("k", new string('v', 2000)));

        Assert.Null(store.Get("k"));
        Assert.Equal(0, store.GetStatistics().CurrentItems);
    }

    [Theory]
    [InlineData(StoreMode.Add)]
    [InlineData(StoreMode.Replace)]
    [InlineData(StoreMode.Append)]
    [InlineData(StoreMode.Prepend)]
    [InlineData(StoreMode.Cas)]
    public void Too_large_in_other_modes_leaves_the_existing_item(StoreMode mode)
    {
        using var store = StoreTestKit.Create(maxItemSize: 1000);
        store.Set("k", "old");
        ulong cas = store.Read("k")!.Cas;

        Assert.Equal(StoreResult.TooLarge, store.Put(mode, "k", new string('v', 2000), compareCas: cas));

        Assert.Equal("old", store.Get("k"));
    }

    [Theory]
    [InlineData(StoreMode.Append)]
    [InlineData(StoreMode.Prepend)]
    public void Concatenation_past_max_item_size_is_too_large_and_keeps_the_item(StoreMode mode)
    {
        using var store = StoreTestKit.Create(maxItemSize: 1000);
        string old = new('o', 900);
        store.Set("k", old);

        Assert.Equal(StoreResult.TooLarge, store.Put(mode, "k", new string('n', 100)));

        Assert.Equal(old, store.Get("k"));
    }

    [Fact]
    public void Out_of_memory_refuses_new_items_and_keeps_existing_ones()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);

        int stored = FillUntilFull(store, "k", ValueSize);

        Assert.InRange(stored, 1800, 2100);
        for (int i = 0; i < stored; i++)
        {
            Assert.Equal(Value(ValueSize, i), store.Get(Key("k", i)));
        }

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(stored, stats.CurrentItems);
        Assert.Equal(1, stats.OutOfMemoryErrors);
        Assert.Equal(0, stats.Evictions);
        Assert.Equal(TwoMiB, stats.TotalMallocedPages);
        Assert.Equal(StoreResult.OutOfMemory, store.Set("another", Value(ValueSize, 0)));
        Assert.Equal(2, store.GetStatistics().OutOfMemoryErrors);
    }

    [Fact]
    public void Deleting_an_item_makes_room_for_another_of_its_class()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);
        FillUntilFull(store, "k", ValueSize);

        store.Delete(Key("k", 5));

        Assert.Equal(StoreResult.Stored, store.Set("another", Value(ValueSize, 1)));
        Assert.Equal(StoreResult.OutOfMemory, store.Set("one-more", Value(ValueSize, 1)));
    }

    [Fact]
    public void When_full_a_set_in_the_same_chunk_class_is_rewritten_in_place()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);
        FillUntilFull(store, "k", ValueSize);

        Assert.Equal(StoreResult.Stored, store.Set(Key("k", 3), Value(ValueSize + 1, 9)));

        Assert.Equal(Value(ValueSize + 1, 9), store.Get(Key("k", 3)));
    }

    [Fact]
    public void Set_that_runs_out_of_memory_removes_the_old_value_but_replace_keeps_it()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);
        FillUntilFull(store, "k", ValueSize);

        // A second class gets its first page even over the limit (as in memcached); fill that too.
        FillUntilFull(store, "big", 2 * ValueSize);

        Assert.Equal(StoreResult.OutOfMemory, store.Put(StoreMode.Replace, Key("k", 1), Value(2 * ValueSize, 0)));
        Assert.Equal(Value(ValueSize, 1), store.Get(Key("k", 1)));
        Assert.Equal(StoreResult.OutOfMemory, store.Put(StoreMode.Append, Key("k", 1), Value(ValueSize, 0)));
        Assert.Equal(Value(ValueSize, 1), store.Get(Key("k", 1)));

        Assert.Equal(StoreResult.OutOfMemory, store.Set(Key("k", 1), Value(2 * ValueSize, 0)));
        Assert.Null(store.Get(Key("k", 1)));
    }

    [Fact]
    public void Raising_the_memory_limit_at_run_time_allows_new_pages()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);
        int first = FillUntilFull(store, "k", ValueSize);

        store.MemoryLimit = 2 * TwoMiB;

        Assert.Equal(2 * TwoMiB, store.GetStatistics().MemoryLimit);
        int second = FillUntilFull(store, "m", ValueSize);
        Assert.InRange(second, first - 1, first + 1);
    }

    [Fact]
    public void Lowering_the_memory_limit_keeps_items_but_refuses_new_pages()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: 4 * TwoMiB);
        for (int i = 0; i < 3000; i++)
        {
            store.Set(Key("k", i), Value(ValueSize, i));
        }

        long pages = store.GetStatistics().TotalMallocedPages;
        long freeChunks = Assert.Single(store.GetSlabStatistics()).FreeChunks;

        store.MemoryLimit = TwoMiB;

        Assert.Equal(3000, store.GetStatistics().CurrentItems);
        Assert.Equal(Value(ValueSize, 2999), store.Get(Key("k", 2999)));
        Assert.Equal(freeChunks, FillUntilFull(store, "m", ValueSize));
        Assert.Equal(pages, store.GetStatistics().TotalMallocedPages);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.MemoryLimit = -1);
    }

    [Fact]
    public void Expired_items_make_room_before_memory_runs_out()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB);
        int stored = FillUntilFull(store, "k", ValueSize, expiresAt: _time.UnixSeconds + 10);
        _time.Advance(TimeSpan.FromSeconds(10));

        for (int i = 0; i < stored / 2; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Set(Key("m", i), Value(ValueSize, i)));
        }

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(1, stats.OutOfMemoryErrors);
        Assert.Equal(stored / 2, stats.Reclaimed);
        Assert.Equal(0, stats.Evictions);
    }

    [Fact]
    public void Eviction_drops_the_least_recently_used_items_and_counts_them()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, evict: true);
        const int count = 8000;

        for (int i = 0; i < count; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Set(Key("k", i), Value(ValueSize, i)));
        }

        for (int i = 0; i < 200; i++)
        {
            Assert.Null(store.Get(Key("k", i)));
        }

        for (int i = count - 200; i < count; i++)
        {
            Assert.Equal(Value(ValueSize, i), store.Get(Key("k", i)));
        }

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(count, stats.TotalItems);
        Assert.Equal(count - stats.CurrentItems, stats.Evictions);
        Assert.Equal(stats.Evictions, stats.EvictedUnfetched);
        Assert.Equal(0, stats.OutOfMemoryErrors);
        Assert.Equal(TwoMiB, stats.TotalMallocedPages);
        SlabClassStatistics row = Assert.Single(store.GetSlabStatistics());
        Assert.Equal(stats.Evictions, row.Evictions);
    }

    [Fact]
    public void Recently_read_items_survive_eviction()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, evict: true);
        store.Set("hot", Value(ValueSize, 0));

        for (int i = 0; i < 8000; i++)
        {
            store.Set(Key("k", i), Value(ValueSize, i));
            Assert.NotNull(store.Get("hot"));
        }

        Assert.True(store.GetStatistics().Evictions > 5000);
    }

    [Fact]
    public void Eviction_reclaims_expired_items_before_evicting_live_ones()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, evict: true);
        int stored = 0;
        while (store.GetStatistics().Evictions == 0)
        {
            store.Set(Key("k", stored), Value(ValueSize, stored), expiresAt: _time.UnixSeconds + 10);
            stored++;
        }

        _time.Advance(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 500; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Set(Key("m", i), Value(ValueSize, i)));
        }

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(1, stats.Evictions);
        Assert.Equal(500, stats.Reclaimed);
        Assert.Equal(500, stats.ExpiredUnfetched);
    }

    [Fact]
    public void Large_items_round_trip_through_their_own_allocation()
    {
        using var store = StoreTestKit.Create(_time);
        byte[] value = new byte[700_000];
        new Random(7).NextBytes(value);

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Set, "big", value, out _, flags: 3));
        Assert.Equal(value, store.Read("big")!.Value);
        Assert.Equal(700_000 + 3, store.GetStatistics().TotalMallocedPages);

        store.Put(StoreMode.Append, "big", "tail"u8.ToArray(), out _);
        store.Put(StoreMode.Prepend, "big", "head"u8.ToArray(), out _);
        StoredItem item = store.Read("big")!;
        Assert.Equal(700_008, item.Value.Length);
        Assert.Equal("head"u8.ToArray(), item.Value[..4]);
        Assert.Equal(value, item.Value[4..^4]);
        Assert.Equal("tail"u8.ToArray(), item.Value[^4..]);
        Assert.Equal(3u, item.Flags);

        SlabClassStatistics row = Assert.Single(store.GetSlabStatistics());
        Assert.Equal(0, row.ChunkSize);
        Assert.Equal(1, row.Items);

        Assert.Equal(DeleteResult.Deleted, store.Delete("big"));
        Assert.Equal(0, store.GetStatistics().TotalMallocedPages);
    }

    [Fact]
    public void Multi_segment_large_value_is_copied_whole()
    {
        using var store = StoreTestKit.Create(_time);
        byte[] value = new byte[600_000];
        new Random(3).NextBytes(value);
        ReadOnlySequence<byte> sequence = StoreTestKit.Segmented(value, 4096, 100_000, 1, 250_000);

        Assert.Equal(StoreResult.Stored, store.Store(StoreMode.Set, StoreTestKit.Bytes("big"), sequence, 0, 0, 0, out _));

        Assert.Equal(value, store.Read("big")!.Value);
    }

    [Fact]
    public void Large_items_are_held_to_the_memory_limit()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, maxItemSize: 2 * 1024 * 1024);
        byte[] value = new byte[600_000];

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Set, "big" + i, value, out _));
        }

        Assert.Equal(StoreResult.OutOfMemory, store.Put(StoreMode.Set, "big3", value, out _));
        Assert.Equal(3, store.GetStatistics().CurrentItems);
        Assert.True(store.GetStatistics().TotalMallocedPages <= TwoMiB);
    }

    [Fact]
    public void Large_items_evict_older_large_items_when_allowed()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, evict: true, maxItemSize: 2 * 1024 * 1024);
        byte[] value = new byte[600_000];

        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Set, "big" + i, value, out _));
        }

        Assert.Null(store.Read("big0"));
        Assert.NotNull(store.Read("big9"));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(3, stats.CurrentItems);
        Assert.Equal(7, stats.Evictions);
    }

    [Fact]
    public void Statistics_count_items_bytes_and_stores_and_reset_keeps_items()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("a", "123");
        store.Set("bb", "4567");
        store.Set("a", "12");
        store.Put(StoreMode.Add, "a", "x");

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(2, stats.CurrentItems);
        Assert.Equal(3, stats.TotalItems);
        Assert.Equal((1 + 2 + 48) + (2 + 4 + 48), stats.Bytes);
        Assert.Equal(StoreTestKit.DefaultLimit, stats.MemoryLimit);
        Assert.Equal(1024L * 1024, stats.TotalMallocedPages);
        Assert.True(stats.HashPowerLevel >= 10);

        store.ResetStatistics();

        stats = store.GetStatistics();
        Assert.Equal(2, stats.CurrentItems);
        Assert.Equal(0, stats.TotalItems);
        Assert.Equal("12", store.Get("a"));
    }

    [Fact]
    public void Reset_statistics_clears_evictions_reclaims_and_out_of_memory_counts()
    {
        using var store = StoreTestKit.Create(_time, memoryLimit: TwoMiB, evict: true, maxItemSize: 2 * 1024 * 1024);
        for (int i = 0; i < 3000; i++)
        {
            store.Set(Key("k", i), Value(ValueSize, i));
        }

        store.Set(Key("k", 0), Value(ValueSize, 0), expiresAt: _time.UnixSeconds + 1);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(1, store.SweepAll());

        // Nothing large to evict and the slab pages are never given back: out of memory even with --evict.
        Assert.Equal(StoreResult.OutOfMemory, store.Put(StoreMode.Set, "large", new byte[600_000], out _));
        StoreStatistics before = store.GetStatistics();
        Assert.NotEqual(0, before.Evictions);
        Assert.Equal(1, before.Reclaimed);
        Assert.Equal(1, before.OutOfMemoryErrors);

        store.ResetStatistics();

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(0, stats.Evictions);
        Assert.Equal(0, stats.EvictedUnfetched);
        Assert.Equal(0, stats.Reclaimed);
        Assert.Equal(0, stats.OutOfMemoryErrors);
        Assert.Equal(0, stats.TotalItems);
        Assert.Equal(before.CurrentItems, stats.CurrentItems);
        Assert.Equal(0, Assert.Single(store.GetSlabStatistics()).Evictions);
    }

    [Fact]
    public void Slab_statistics_show_one_row_per_used_class()
    {
        using var store = StoreTestKit.Create(_time);
        for (int i = 0; i < 10; i++)
        {
            store.Set(Key("k", i), "small");
        }

        for (int i = 0; i < 4; i++)
        {
            store.Set(Key("m", i), new string('m', 5000));
        }

        _time.Advance(TimeSpan.FromSeconds(30));
        IReadOnlyList<SlabClassStatistics> rows = store.GetSlabStatistics();

        Assert.Equal(2, rows.Count);
        SlabClassStatistics small = rows[0];
        Assert.Equal(1, small.ClassId);
        Assert.Equal(48, small.ChunkSize);
        Assert.Equal(1, small.TotalPages);
        Assert.Equal(1024 * 1024 / 48, small.TotalChunks);
        Assert.Equal(10, small.UsedChunks);
        Assert.Equal(small.TotalChunks - 10, small.FreeChunks);
        Assert.Equal(10, small.Items);
        Assert.Equal(30, small.OldestItemAgeSeconds);
        Assert.True(rows[1].ClassId > 1);
        Assert.True(rows[1].ChunkSize >= 5007);
        Assert.Equal(4, rows[1].Items);
    }

    [Fact]
    public void Slab_classes_grow_by_the_factor_in_8_byte_steps_up_to_half_a_page()
    {
        var slabs = new SlabAllocator(1.25, 0);
        var sizes = new List<int>();
        for (int c = 0; c < slabs.ClassCount; c++)
        {
            sizes.Add(slabs.ChunkSize(c));
        }

        Assert.Equal(48, sizes[0]);
        Assert.Equal(512 * 1024, sizes[^1]);
        Assert.All(sizes, size => Assert.Equal(0, size % 8));
        for (int i = 1; i < sizes.Count - 1; i++)
        {
            Assert.InRange(sizes[i], sizes[i - 1] + 8, (sizes[i - 1] * 1.25) + 8);
        }

        Assert.Equal(0, slabs.ClassFor(1));
        Assert.Equal(0, slabs.ClassFor(48));
        Assert.Equal(1, slabs.ClassFor(49));
        Assert.Equal(slabs.ClassCount - 1, slabs.ClassFor(512 * 1024));
        Assert.Equal(slabs.LargeClass, slabs.ClassFor((512 * 1024) + 1));
    }

    [Fact]
    public void A_growth_factor_near_1_stops_at_63_classes()
    {
        var slabs = new SlabAllocator(1.01, 0);

        Assert.Equal(63, slabs.ClassCount);
        Assert.Equal(512 * 1024, slabs.ChunkSize(62));
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(double.NaN)]
    public void A_growth_factor_of_1_or_less_is_refused(double factor)
    {
        var options = StoreTestKit.Options();

        // The option type refuses it when set, before a store is built with it.
        Assert.Throws<OptionValueException>(() => options.GrowthFactor = factor);
        Assert.Equal(StoreOptions.DefaultGrowthFactor, options.GrowthFactor);
    }

    [Fact]
    public void An_index_entry_is_64_bytes()
    {
        Assert.Equal(64, Unsafe.SizeOf<Entry>());
    }

    [Fact]
    public void Dispose_is_idempotent_and_later_calls_throw()
    {
        var store = new SlabItemStore(StoreTestKit.Options(_time));
        store.Set("k", "v");
        store.Put(StoreMode.Set, "big", new byte[600_000], out _);

        store.Dispose();
        store.Dispose();

        Assert.Throws<ObjectDisposedException>(() => store.Get("k"));
        Assert.Throws<ObjectDisposedException>(() => store.Set("k", "v"));
        Assert.Throws<ObjectDisposedException>(() => store.GetStatistics());
        Assert.Throws<ObjectDisposedException>(() => store.FlushAll(0));
    }

    private static int FillUntilFull(SlabItemStore store, string prefix, int valueSize, int stopAt = int.MaxValue, long expiresAt = 0)
    {
        int stored = 0;
        while (stored < stopAt && store.Set(Key(prefix, stored), Value(valueSize, stored), expiresAt: expiresAt) == StoreResult.Stored)
        {
            stored++;
        }

        return stored;
    }

    private static string Key(string prefix, int i) => prefix + i.ToString("D6");

    private static string Value(int size, int seed) => seed.ToString("D6") + new string((char)('a' + (seed % 26)), size - 6);
}
