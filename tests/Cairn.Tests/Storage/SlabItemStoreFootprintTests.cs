using System.Buffers;
using System.Buffers.Text;
using Cairn.Storage;

namespace Cairn.Tests.Storage;

/// <summary>Measures the GC heap, so nothing else may run alongside.</summary>
[CollectionDefinition(nameof(GcSensitive), DisableParallelization = true)]
public sealed class GcSensitive;

[Collection(nameof(GcSensitive))]
public sealed class SlabItemStoreFootprintTests
{
    private const int ItemCount = 200_000;
    private static readonly byte[] Value = new byte[32];

    [Fact]
    public void Storing_200k_items_puts_no_per_item_objects_on_the_gc_heap()
    {
        using var store = StoreTestKit.Create(memoryLimit: 256L * 1024 * 1024);
        Warm(store);

        long before = GC.GetTotalMemory(forceFullCollection: true);
        StoreAll(store);
        long after = GC.GetTotalMemory(forceFullCollection: true);

        Assert.Equal(ItemCount, store.GetStatistics().CurrentItems);

        // The index arrays are the only per-item managed memory: 64 bytes an entry and 4 a bucket,
        // at most doubled by growth. Everything else must be far below one small object per item.
        long index = store.IndexBytes;
        Assert.InRange(index, ItemCount * 68L, ItemCount * 68L * 2);
        Assert.InRange(after - before - index, long.MinValue, ItemCount * 24L / 10);
        GC.KeepAlive(store);
    }

    [Fact]
    public void Stores_reads_and_deltas_allocate_nothing_once_the_index_has_grown()
    {
        using var store = StoreTestKit.Create(memoryLimit: 256L * 1024 * 1024);
        Warm(store);
        StoreAll(store);
        DeleteAll(store);
        Span<byte> key = stackalloc byte[16];
        var value = new ReadOnlySequence<byte>(Value);
        var digits = new ReadOnlySequence<byte>("7"u8.ToArray());
        var visitor = new LengthVisitor();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < ItemCount; i++)
        {
            int length = FormatKey(key, i);
            store.Store(StoreMode.Set, key[..length], value, 0, 0, 0, out _);
            store.Store(StoreMode.Append, key[..length], value, 0, 0, 0, out _);
            store.TryGet(key[..length], ref visitor);
            store.Store(StoreMode.Set, key[..length], digits, 0, 0, 0, out _);
            store.ApplyDelta(key[..length], increment: true, 5, out _);
            store.Touch(key[..length], 0);
            store.Delete(key[..length]);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ItemCount * 64L, visitor.TotalBytes);
        Assert.InRange(allocated, 0, 1024);
    }

    private static void Warm(SlabItemStore store)
    {
        // JIT and first pages before measuring.
        Span<byte> key = stackalloc byte[16];
        var value = new ReadOnlySequence<byte>(Value);
        for (int i = 0; i < 100; i++)
        {
            int length = FormatKey(key, -i - 1);
            store.Store(StoreMode.Set, key[..length], value, 0, 0, 0, out _);
            store.Delete(key[..length]);
        }
    }

    private static void StoreAll(SlabItemStore store)
    {
        Span<byte> key = stackalloc byte[16];
        var value = new ReadOnlySequence<byte>(Value);
        for (int i = 0; i < ItemCount; i++)
        {
            int length = FormatKey(key, i);
            Assert.Equal(StoreResult.Stored, store.Store(StoreMode.Set, key[..length], value, 0, 0, 0, out _));
        }
    }

    private static void DeleteAll(SlabItemStore store)
    {
        Span<byte> key = stackalloc byte[16];
        for (int i = 0; i < ItemCount; i++)
        {
            store.Delete(key[..FormatKey(key, i)]);
        }
    }

    private static int FormatKey(Span<byte> destination, int i)
    {
        "key:"u8.CopyTo(destination);
        Utf8Formatter.TryFormat(i, destination[4..], out int written);
        return 4 + written;
    }

    private struct LengthVisitor : IItemVisitor
    {
        public long TotalBytes;

        public void Visit(scoped in ItemView item) => TotalBytes += item.Value.Length;
    }
}
