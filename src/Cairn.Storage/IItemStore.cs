using System.Buffers;

namespace Cairn.Storage;

/// <summary>
/// The seam between the protocols and the items. Everything a memcached command can do to an item
/// goes through here, so durability can wrap or observe it without the protocol code changing.
/// Keys arrive already validated (1..250 bytes, no spaces or control characters).
/// Expiry times are absolute Unix seconds; 0 means never. The protocol layer converts memcached's
/// relative/absolute/negative exptime forms before calling in.
/// </summary>
public interface IItemStore : IMetaItemStore, IDisposable
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

    /// <summary>Values kept only on disk once memory is full, and the reads that fetched them.</summary>
    TierStatistics GetTierStatistics();

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
    public ItemView(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt = 0, bool stale = false)
    {
        Stale = stale;
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

    /// <summary>Invalidated by meta I: served, flagged stale.</summary>
    public bool Stale { get; }
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
    int HashPowerLevel,
    long GetExpired = 0,
    long GetFlushed = 0);

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

/// <summary>The meta protocol's operations (mg, ms, md, ma, me), kept apart so classic callers are unchanged.</summary>
public interface IMetaItemStore
{
    /// <summary>
    /// mg: looks a key up (optionally vivifying a miss as an empty item), touches and bumps as asked, decides
    /// the recache win, and shows the item with its state before the command to the visitor.
    /// </summary>
    bool MetaGet<TVisitor>(ReadOnlySpan<byte> key, in MetaGetOptions options, ref TVisitor visitor)
        where TVisitor : IMetaItemVisitor, allows ref struct;

    /// <summary>ms: <see cref="IItemStore.Store"/> with the meta options; reports the new CAS and value length.</summary>
    StoreResult MetaStore(StoreMode mode, ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, uint flags, long expiresAt, in MetaStoreOptions options, out ulong cas, out int valueLength);

    /// <summary>md: delete, or with invalidate mark stale, or with remove-value keep an empty item.</summary>
    MetaStatus MetaDelete(ReadOnlySpan<byte> key, in MetaDeleteOptions options);

    /// <summary>ma: incr/decr with CAS compare, explicit CAS, autovivify and TTL update.</summary>
    MetaStatus MetaApplyDelta(ReadOnlySpan<byte> key, in MetaArithmeticOptions options, out MetaArithmeticOutcome outcome);

    /// <summary>me: the item's metadata without touching or bumping it.</summary>
    bool TryInspect(ReadOnlySpan<byte> key, out ItemInspection inspection);

    /// <summary>How many independently locked parts the index has; a key listing walks them one at a time.</summary>
    int ShardCount { get; }

    /// <summary>
    /// Every live item of one shard with its metadata, under that shard's lock only, without touching or bumping
    /// them: a listing of a large store holds up each key's other users for one shard's walk at most.
    /// </summary>
    void InspectShard<TVisitor>(int shard, ref TVisitor visitor)
        where TVisitor : IItemInspectionVisitor, allows ref struct;
}

/// <summary>Receives each item a shard walk finds: its key, client flags and what "me" reports.</summary>
public interface IItemInspectionVisitor
{
    void Visit(ReadOnlySpan<byte> key, uint flags, in ItemInspection inspection);
}

/// <summary>Receives an item for mg, with its state from before the command.</summary>
public interface IMetaItemVisitor
{
    void Visit(scoped in ItemView item, in MetaItemState state);
}

/// <param name="HitBefore">Fetched before this command (mg h).</param>
/// <param name="LastAccessAt">Unix seconds of the last access before this command (mg l).</param>
/// <param name="Stale">Invalidated (mg X).</param>
/// <param name="WinTokenSentBefore">Another client already won the recache (mg Z).</param>
/// <param name="Won">This client wins the recache (mg W).</param>
public readonly record struct MetaItemState(bool HitBefore, long LastAccessAt, bool Stale, bool WinTokenSentBefore, bool Won);

public readonly record struct MetaGetOptions
{
    /// <summary>False for mg u: no LRU bump, no hit or access time recorded.</summary>
    public bool Bump { get; init; }
    public bool Touch { get; init; }
    public long TouchExpiresAt { get; init; }
    public bool Vivify { get; init; }
    public long VivifyExpiresAt { get; init; }
    public bool Recache { get; init; }
    public long RecacheSeconds { get; init; }

    /// <summary>CAS for a vivified item; 0 takes the next one.</summary>
    public ulong NewCas { get; init; }
}

public readonly record struct MetaStoreOptions
{
    public bool HasCompareCas { get; init; }
    public ulong CompareCas { get; init; }

    /// <summary>0 takes the next CAS.</summary>
    public ulong NewCas { get; init; }
    public bool Invalidate { get; init; }
    public bool Vivify { get; init; }
    public long VivifyExpiresAt { get; init; }

    /// <summary>Store the item already stale (md x with I leaves a stale tombstone).</summary>
    public bool MarkStale { get; init; }

    /// <summary>Replay and replication: the Unix seconds the item was first stored; 0 is now.</summary>
    internal long StoredAt { get; init; }

    /// <summary>Replay and replication: where the record being applied lies on disk (<see cref="Tiering.DiskLocation"/>).</summary>
    internal long Location { get; init; }
}

public readonly record struct MetaDeleteOptions
{
    public bool HasCompareCas { get; init; }
    public ulong CompareCas { get; init; }
    public ulong NewCas { get; init; }
    public bool Invalidate { get; init; }
    public bool UpdateTtl { get; init; }
    public long ExpiresAt { get; init; }
    public bool RemoveValue { get; init; }
}

public readonly record struct MetaArithmeticOptions
{
    public bool Increment { get; init; }
    public ulong Delta { get; init; }
    public bool HasCompareCas { get; init; }
    public ulong CompareCas { get; init; }
    public ulong NewCas { get; init; }
    public bool Vivify { get; init; }
    public long VivifyExpiresAt { get; init; }
    public ulong Initial { get; init; }
    public bool UpdateTtl { get; init; }
    public long ExpiresAt { get; init; }
}

public readonly record struct MetaArithmeticOutcome(ulong Value, ulong Cas, long ExpiresAt);

/// <summary>What me reports; <c>SlabClassId</c> counts from 1 as memcached's class ids do.</summary>
public readonly record struct ItemInspection(int KeyLength, int ValueLength, long ExpiresAt, long LastAccessAt, ulong Cas, bool Fetched, int SlabClassId);

public enum MetaStatus : byte
{
    Ok,
    NotFound,
    Exists,
    NotStored,
    NonNumeric,
    OutOfMemory,
}
