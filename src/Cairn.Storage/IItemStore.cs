using System.Buffers;

namespace Cairn.Storage;

/// <summary>
/// The seam between the protocols and the items. Everything a memcached command can do to an item
/// goes through here, so durability can wrap or observe it without the protocol code changing.
/// Keys arrive already validated (1..250 bytes, no spaces or control characters).
/// Expiry times are absolute Unix seconds; 0 means never. The protocol layer converts memcached's
/// relative/absolute/negative exptime forms before calling in.
/// </summary>
public interface IItemStore : IDisposable
{
    /// <summary>Looks a key up and, when it is live, shows it to the visitor while it cannot change.</summary>
    bool TryGet<TVisitor>(ReadOnlySpan<byte> key, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct;

    /// <summary>gat/gats: updates the expiry of a live item, then shows it to the visitor.</summary>
    bool TryGetAndTouch<TVisitor>(ReadOnlySpan<byte> key, long expiresAt, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct;

    /// <summary>
    /// set/add/replace/append/prepend/cas. <paramref name="compareCas"/> is only read for <see cref="StoreMode.Cas"/>.
    /// Append and prepend keep the existing item's flags and expiry. A set that fails for size or memory
    /// removes the key's old value, as memcached does, so a stale value never outlives a failed overwrite.
    /// </summary>
    StoreResult Store(StoreMode mode, ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, uint flags, long expiresAt, ulong compareCas, out ulong cas);

    DeleteResult Delete(ReadOnlySpan<byte> key);

    /// <summary>
    /// incr wraps at 2^64, decr stops at 0. As in memcached, a result shorter than the stored digits is
    /// written in place padded with trailing spaces (decr "10" by 1 reads back as "9 ").
    /// </summary>
    ArithmeticResult ApplyDelta(ReadOnlySpan<byte> key, bool increment, ulong delta, out ulong newValue);

    bool Touch(ReadOnlySpan<byte> key, long expiresAt);

    /// <summary>Invalidates every item stored before <paramref name="atUnixSeconds"/> once that moment has come; 0 means now.</summary>
    void FlushAll(long atUnixSeconds);

    /// <summary>memcached's -m, changeable at run time by cache_memlimit.</summary>
    long MemoryLimit { get; set; }

    StoreStatistics GetStatistics();

    IReadOnlyList<SlabClassStatistics> GetSlabStatistics();

    /// <summary>stats reset: clears the cumulative counters, not the items.</summary>
    void ResetStatistics();
}

/// <summary>Receives an item while the store guarantees its bytes do not move or change.</summary>
public interface IItemVisitor
{
    void Visit(scoped in ItemView item);
}

public readonly ref struct ItemView
{
    public ItemView(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt = 0)
    {
        Key = key;
        Value = value;
        Flags = flags;
        ExpiresAt = expiresAt;
        Cas = cas;
        StoredAt = storedAt;
    }

    public ReadOnlySpan<byte> Key { get; }
    public ReadOnlySpan<byte> Value { get; }
    public uint Flags { get; }
    public long ExpiresAt { get; }
    public ulong Cas { get; }

    /// <summary>Unix seconds of the last store; delayed flush_all compares against it.</summary>
    public long StoredAt { get; }
}

public enum StoreMode : byte
{
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

public enum StoreResult : byte
{
    Stored,
    NotStored,
    Exists,
    NotFound,
    TooLarge,
    OutOfMemory,
}

public enum DeleteResult : byte
{
    Deleted,
    NotFound,
}

public enum ArithmeticResult : byte
{
    Ok,
    NotFound,
    NonNumeric,
    OutOfMemory,
}

public readonly record struct StoreStatistics(
    long CurrentItems,
    long TotalItems,
    long Bytes,
    long MemoryLimit,
    long Evictions,
    long Reclaimed,
    long ExpiredUnfetched,
    long EvictedUnfetched,
    long OutOfMemoryErrors,
    long TotalMallocedPages,
    int HashPowerLevel);

public readonly record struct SlabClassStatistics(
    int ClassId,
    int ChunkSize,
    long TotalPages,
    long TotalChunks,
    long UsedChunks,
    long FreeChunks,
    long Items,
    long Evictions,
    long OldestItemAgeSeconds);
