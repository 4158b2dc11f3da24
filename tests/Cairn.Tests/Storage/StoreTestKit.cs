using System.Buffers;
using System.Text;
using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

/// <summary>String-friendly helpers over <see cref="IItemStore"/> for readable tests.</summary>
internal static class StoreTestKit
{
    public const long DefaultLimit = 64L * 1024 * 1024;

    /// <summary>A store without the background sweep, so counters only move when a test acts.</summary>
    public static SlabItemStore Create(ManualTimeProvider? time = null, long memoryLimit = DefaultLimit, bool evict = false, int maxItemSize = 1024 * 1024) =>
        new(Options(time, memoryLimit, evict, maxItemSize), startSweeper: false);

    public static StoreOptions Options(ManualTimeProvider? time = null, long memoryLimit = DefaultLimit, bool evict = false, int maxItemSize = 1024 * 1024) => new()
    {
        Time = time ?? new ManualTimeProvider(),
        MemoryLimit = memoryLimit,
        EvictWhenFull = evict,
        MaxItemSize = maxItemSize,
    };

    public static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    public static ReadOnlySequence<byte> Sequence(string text) => new(Bytes(text));

    public static StoreResult Set(this IItemStore store, string key, string value, uint flags = 0, long expiresAt = 0) =>
        store.Put(StoreMode.Set, key, value, flags, expiresAt);

    public static StoreResult Put(this IItemStore store, StoreMode mode, string key, string value, uint flags = 0, long expiresAt = 0, ulong compareCas = 0) =>
        store.Store(mode, Bytes(key), Sequence(value), flags, expiresAt, compareCas, out _);

    public static StoreResult Put(this IItemStore store, StoreMode mode, string key, byte[] value, out ulong cas, uint flags = 0, long expiresAt = 0, ulong compareCas = 0) =>
        store.Store(mode, Bytes(key), new ReadOnlySequence<byte>(value), flags, expiresAt, compareCas, out cas);

    public static StoredItem? Read(this IItemStore store, string key)
    {
        var visitor = new CaptureVisitor();
        return store.TryGet(Bytes(key), ref visitor) ? visitor.Item : null;
    }

    public static string? Get(this IItemStore store, string key) => store.Read(key)?.Text;

    public static ArithmeticResult Incr(this IItemStore store, string key, ulong delta, out ulong value) =>
        store.ApplyDelta(Bytes(key), increment: true, delta, out value);

    public static ArithmeticResult Decr(this IItemStore store, string key, ulong delta, out ulong value) =>
        store.ApplyDelta(Bytes(key), increment: false, delta, out value);

    public static bool Touch(this IItemStore store, string key, long expiresAt) => store.Touch(Bytes(key), expiresAt);

    public static DeleteResult Delete(this IItemStore store, string key) => store.Delete(Bytes(key));

    /// <summary>The same bytes split into a chain of segments at the given lengths.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, params int[] segmentLengths)
    {
        var first = new Segment(data.AsMemory(0, segmentLengths[0]), 0);
        Segment last = first;
        int offset = segmentLengths[0];
        for (int i = 1; i < segmentLengths.Length; i++)
        {
            last = last.Append(data.AsMemory(offset, segmentLengths[i]));
            offset += segmentLengths[i];
        }

        if (offset < data.Length)
        {
            last = last.Append(data.AsMemory(offset));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

internal sealed record StoredItem(string Key, byte[] Value, uint Flags, long ExpiresAt, ulong Cas)
{
    public string Text => Encoding.ASCII.GetString(Value);
}

/// <summary>Copies what the store shows; tests only, since it allocates.</summary>
internal struct CaptureVisitor : IItemVisitor
{
    public StoredItem? Item;

    public void Visit(scoped in ItemView item) =>
        Item = new StoredItem(Encoding.ASCII.GetString(item.Key), item.Value.ToArray(), item.Flags, item.ExpiresAt, item.Cas);
}
