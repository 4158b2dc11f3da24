using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Cairn.Storage.Tiering;

namespace Cairn.Storage;

/// <summary>
/// Values beyond memory: when -m is reached, the least recently used value of the class that needs room leaves memory
/// and stays only in the log; its entry keeps the key (in a small allocation outside -m), the metadata and the record's
/// <see cref="Entry.Location"/>, and sits on the cold pseudo class's LRU. A get reads the record back outside the shard
/// lock and brings the value into memory again; operations that rewrite a value read it under the lock first.
/// </summary>
public sealed unsafe partial class SlabItemStore
{
    /// <summary>Reads that found the record moved by compaction look the item up again at most this many times.</summary>
    private const int ColdReadAttempts = 4;

    /// <summary>How far up a class's LRU tail to look for a value whose record location is known.</summary>
    private const int DemoteSearchDepth = 16;

    private readonly bool _tiered;
    private readonly int _coldClass;
    private IColdValueSource? _coldValues;
    private long _coldReads;
    private long _coldReadErrors;
    private long _coldReadTicks;
    private long _coldReadMaxTicks;

    /// <summary>The class id (as inspection reports it, from 1) of items whose value is only on disk.</summary>
    internal int ColdClassId => _coldClass + 1;

    /// <summary>Whether values may live only on disk (<see cref="StoreOptions.ValuesBeyondMemory"/> without eviction).</summary>
    public bool ValuesBeyondMemory => _tiered;

    /// <summary>Where values kept only on disk are read from; attached once the log is open, before serving.</summary>
    public void AttachColdValues(IColdValueSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Volatile.Write(ref _coldValues, source);
    }

    public TierStatistics GetTierStatistics()
    {
        long coldItems = 0, coldBytes = 0, demotions = 0, promotions = 0;
        foreach (Shard shard in _shards)
        {
            coldItems += Volatile.Read(ref shard.ClassItems[shard.ColdClass]);
            coldBytes += Volatile.Read(ref shard.ColdValueBytes);
            demotions += Volatile.Read(ref shard.Demotions);
            promotions += Volatile.Read(ref shard.Promotions);
        }

        long reads = Interlocked.Read(ref _coldReads);
        return new TierStatistics(
            coldItems,
            coldBytes,
            demotions,
            promotions,
            reads,
            Interlocked.Read(ref _coldReadErrors),
            reads == 0 ? TimeSpan.Zero : TimeSpan.FromTicks(Interlocked.Read(ref _coldReadTicks) / reads),
            TimeSpan.FromTicks(Interlocked.Read(ref _coldReadMaxTicks)));
    }

    private bool IsCold(ref Entry e) => e.SlabClass == _coldClass;

    /// <summary>Reads a cold value outside any lock, shows it, and brings it back into memory if it is still the item's.</summary>
    private bool VisitCold<TVisitor>(ReadOnlySpan<byte> key, ColdItem cold, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct
    {
        switch (ReadColdValue(key, ref cold, out var value))
        {
            case ColdOutcome.Read:
                using (value)
                {
                    visitor.Visit(cold.View(key, value.Span));
                    BringIntoMemory(key, cold.Location, value.Span);
                }

                return true;
            case ColdOutcome.InMemory:
                return TryGet(key, ref visitor);
            default:
                return false;
        }
    }

    /// <summary>
    /// The value of a cold item, in a rented buffer the caller disposes, when the outcome is Read. A record compaction
    /// moved is looked up again: the item may be gone (Missing) or back in memory (InMemory: look it up).
    /// </summary>
    private ColdOutcome ReadColdValue(ReadOnlySpan<byte> key, ref ColdItem cold, out RentedValue value)
    {
        for (int attempt = 1; ; attempt++)
        {
            value = new RentedValue(cold.ValueLength);
            var status = ReadCold(cold.Location, key, cold.Cas, value.Span, lastAttempt: attempt == ColdReadAttempts);
            if (status == ColdReadStatus.Read)
            {
                return ColdOutcome.Read;
            }

            value.Dispose();
            if (status != ColdReadStatus.Moved || attempt == ColdReadAttempts)
            {
                return ColdOutcome.Missing;
            }

            // Compaction moved the record: the entry has its new place by now.
            using var item = Lookup(key);
            if (!item.Found)
            {
                return ColdOutcome.Missing;
            }

            if (!IsCold(ref item.Entry))
            {
                return ColdOutcome.InMemory;
            }

            cold = new ColdItem(ref item.Entry, _epoch);
        }
    }

    private void BringIntoMemory(ReadOnlySpan<byte> key, long location, ReadOnlySpan<byte> value)
    {
        using var item = Lookup(key);
        if (item.Found && IsCold(ref item.Entry) && item.Entry.Location == location)
        {
            MoveIntoMemory(item, key, value);
        }
    }

    /// <summary>
    /// For operations that rewrite a value in place (ma, md I, mg): a cold value is read under the lock and put back in
    /// memory. False when it cannot be read or no memory can be found for it; the caller treats the item as absent.
    /// </summary>
    private bool EnsureInMemory(scoped in LockedLookup item, ReadOnlySpan<byte> key)
    {
        ref Entry e = ref item.Entry;
        if (!IsCold(ref e))
        {
            return true;
        }

        using var value = new RentedValue(e.ValueLength);

        // Under the shard lock the location cannot be relocated, and its segment is only deleted after relocation.
        return ReadCold(e.Location, key, e.Cas, value.Span, lastAttempt: true) == ColdReadStatus.Read && MoveIntoMemory(item, key, value.Span);
    }

    private bool MoveIntoMemory(scoped in LockedLookup item, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        Shard shard = item.Shard;
        int total = key.Length + value.Length;
        int slabClass = _slabs.ClassFor(total);
        shard.LruRemove(item.Index);
        nint chunk = Allocate(shard, slabClass, total, item.Now);
        if (chunk == 0)
        {
            shard.LruPushHead(item.Index);
            return false;
        }

        key.CopyTo(new Span<byte>((void*)chunk, key.Length));
        value.CopyTo(new Span<byte>((byte*)chunk + key.Length, value.Length));
        nint stub = shard.Entries[item.Index].Data;
        shard.Rebind(item.Index, chunk, value.Length, slabClass);
        NativeMemory.Free((void*)stub);
        shard.Promotions++;
        return true;
    }

    /// <summary>
    /// Makes room in <paramref name="slabClass"/> by moving the least recently used value whose record location is known
    /// out of memory; returns its memory, or 0 when there is none.
    /// </summary>
    private nint DemoteFromTail(Shard shard, int slabClass, out int size)
    {
        size = 0;
        int link = shard.LruTail[slabClass];
        for (int depth = 0; link != 0 && depth < DemoteSearchDepth; depth++)
        {
            int index = link - 1;
            ref Entry e = ref shard.Entries[index];
            link = e.LruPrev;
            if (e.Location == DiskLocation.Unknown)
            {
                continue;
            }

            nint data = e.Data;
            size = e.KeyLength + e.ValueLength;
            nint stub = (nint)NativeMemory.Alloc(e.KeyLength);
            new ReadOnlySpan<byte>((void*)data, e.KeyLength).CopyTo(new Span<byte>((void*)stub, e.KeyLength));
            shard.LruRemove(index);
            shard.Rebind(index, stub, e.ValueLength, _coldClass);
            shard.Demotions++;
            return data;
        }

        return 0;
    }

    /// <summary>append or prepend onto a value that is only on disk: read it, join, and store the whole as a set.</summary>
    private StoreResult ConcatenateOntoCold(scoped in LockedLookup item, ReadOnlySpan<byte> key, scoped in ItemValue value, StoreMode mode, in MetaStoreOptions meta, byte newBits, out ulong cas, out int storedLength)
    {
        cas = 0;
        storedLength = 0;
        ref Entry e = ref item.Entry;
        int oldLength = e.ValueLength;
        int incoming = (int)value.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(oldLength + incoming);
        try
        {
            var joined = buffer.AsSpan(0, oldLength + incoming);
            var old = mode == StoreMode.Append ? joined[..oldLength] : joined[incoming..];
            if (ReadCold(e.Location, key, e.Cas, old, lastAttempt: true) != ColdReadStatus.Read)
            {
                return StoreResult.NotStored;
            }

            value.CopyTo(mode == StoreMode.Append ? joined[oldLength..] : joined[..incoming]);
            var asSet = new MetaStoreOptions { NewCas = meta.NewCas, MarkStale = (newBits & MetaBits.Stale) != 0 };
            return StoreCore(StoreMode.Set, key, new ItemValue(joined), e.Flags, e.ExpiresAt, 0, asSet, out cas, out storedLength);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// No memory of the needed size could be freed (say, every value in memory is of other sizes): the new value is
    /// written to the log only and the entry keeps its key and location, so a full memory never refuses a write. The old
    /// item, if any, is already off its LRU.
    /// </summary>
    private StoreResult StoreOnDiskOnly(scoped in LockedLookup item, ReadOnlySpan<byte> key, scoped in ItemValue value, StoreMode mode, uint flags, long expiresAt, in MetaStoreOptions meta, byte newBits, out ulong cas, out int storedLength)
    {
        cas = 0;
        storedLength = 0;
        Shard shard = item.Shard;
        int index = item.Index;
        var journal = _journal;
        if (journal is null && meta.Location == DiskLocation.Unknown)
        {
            // Without a record to point at the value would be lost: refuse as a store without a log does.
            Interlocked.Increment(ref _outOfMemoryErrors);
            if (index >= 0)
            {
                shard.LruPushHead(index);
            }

            return StoreResult.OutOfMemory;
        }

        bool concatenates = mode is StoreMode.Append or StoreMode.Prepend && index >= 0;
        int oldLength = concatenates ? shard.Entries[index].ValueLength : 0;
        int incoming = (int)value.Length;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(oldLength + incoming);
        try
        {
            var whole = buffer.AsSpan(0, oldLength + incoming);
            var oldValue = concatenates ? new ReadOnlySpan<byte>((byte*)shard.Entries[index].Data + key.Length, oldLength) : default;
            WriteJoined(concatenates ? mode : StoreMode.Set, oldValue, value, whole);

            nint stub = (nint)NativeMemory.Alloc((nuint)key.Length);
            key.CopyTo(new Span<byte>((void*)stub, key.Length));
            if (index >= 0)
            {
                ref Entry old = ref shard.Entries[index];
                FreeData(old.SlabClass, old.Data, old.KeyLength + old.ValueLength);
                shard.Rebind(index, stub, whole.Length, _coldClass);
            }
            else
            {
                index = shard.Insert(item.Hash, stub, key.Length, whole.Length, _coldClass);
            }

            ref Entry stored = ref shard.Entries[index];
            if (!concatenates)
            {
                stored.Flags = flags;
                stored.ExpiresAt = expiresAt;
            }

            FinishStore(shard, ref stored, item.Now, meta, newBits);
            if (journal is not null)
            {
                stored.Location = journal.Stored(key, whole, stored.Flags, stored.ExpiresAt, stored.Cas, _epoch + stored.StoredAt, (newBits & MetaBits.Stale) != 0);
            }

            shard.Demotions++;
            cas = stored.Cas;
            storedLength = whole.Length;
            return StoreResult.Stored;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Shows a cold item to a visitor that runs under the shard lock (backups, lru_crawler): a value that cannot be read stops the walk.</summary>
    private void VisitColdLocked<TVisitor>(ref Entry e, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct
    {
        var key = new ReadOnlySpan<byte>((void*)e.Data, e.KeyLength);
        var cold = new ColdItem(ref e, _epoch);
        using var value = new RentedValue(cold.ValueLength);
        if (ReadCold(cold.Location, key, cold.Cas, value.Span, lastAttempt: true) != ColdReadStatus.Read)
        {
            // A walk that skipped it would leave it out of a backup: better no walk.
            throw new IOException("a value kept only on disk could not be read (see the error logged before)");
        }

        visitor.Visit(cold.View(key, value.Span));
    }

    private ColdReadStatus ReadCold(long location, ReadOnlySpan<byte> key, ulong cas, Span<byte> value, bool lastAttempt)
    {
        var source = Volatile.Read(ref _coldValues);
        if (source is null || location == DiskLocation.Unknown)
        {
            Interlocked.Increment(ref _coldReadErrors);
            return ColdReadStatus.Unavailable;
        }

        long started = Stopwatch.GetTimestamp();
        var status = source.Read(location, key, cas, value);
        if (status == ColdReadStatus.Read)
        {
            long ticks = Stopwatch.GetElapsedTime(started).Ticks;
            Interlocked.Increment(ref _coldReads);
            Interlocked.Add(ref _coldReadTicks, ticks);
            long max;
            while (ticks > (max = Interlocked.Read(ref _coldReadMaxTicks)) && Interlocked.CompareExchange(ref _coldReadMaxTicks, ticks, max) != max)
            {
            }
        }
        else if (status != ColdReadStatus.Moved || lastAttempt)
        {
            Interlocked.Increment(ref _coldReadErrors);
        }

        return status;
    }

    /// <summary>A cold item's metadata, taken under the lock so the read that follows can run without it.</summary>
    private readonly struct ColdItem(ref Entry e, long epoch)
    {
        public readonly long Location = e.Location;
        public readonly ulong Cas = e.Cas;
        public readonly uint Flags = e.Flags;
        public readonly long ExpiresAt = e.ExpiresAt;
        public readonly long StoredAt = epoch + e.StoredAt;
        public readonly bool Stale = (e.MetaBits & MetaBits.Stale) != 0;
        public readonly int ValueLength = e.ValueLength;

        public ItemView View(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) => new(key, value, Flags, ExpiresAt, Cas, StoredAt, Stale);
    }

    /// <summary>A value read from disk, in a pooled buffer until disposed.</summary>
    private readonly struct RentedValue(int length) : IDisposable
    {
        private readonly byte[] _buffer = ArrayPool<byte>.Shared.Rent(length);

        public Span<byte> Span => _buffer.AsSpan(0, length);

        public void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
    }
}

internal enum ColdOutcome
{
    Read,
    Missing,
    InMemory,
}

/// <summary>Values beyond memory, for "stats": how many items and bytes are only on disk, and what reading them cost.</summary>
public readonly record struct TierStatistics(
    long ItemsOnDiskOnly,
    long ValueBytesOnDiskOnly,
    long MovedToDisk,
    long BroughtIntoMemory,
    long ColdReads,
    long ColdReadErrors,
    TimeSpan ColdReadMean,
    TimeSpan ColdReadMax);
