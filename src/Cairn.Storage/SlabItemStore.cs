using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Cairn.Storage;

/// <summary>
/// The in-memory item store: memcached 1.6 semantics over native slab memory. The index is sharded
/// by the top bits of a 64-bit key hash, one lock per shard; item bytes never become GC objects and
/// are only read or written under their shard's lock, so visitors see bytes that cannot change.
/// Dead items (expired or flushed) are treated as absent everywhere and reclaimed when an operation
/// meets them, when space is needed, or by the background sweep.
/// Dispose frees the native memory. There is no finalizer: the sweep timer keeps an undisposed
/// store reachable, so only Dispose can release it.
/// </summary>
public sealed unsafe partial class SlabItemStore : IItemStore
{
    /// <summary>memcached's per-item header (with CAS), counted in "bytes" though Cairn keeps metadata in the index; -I uses <see cref="ItemLimits"/>.</summary>
    internal const int ItemHeaderOverhead = 48;

    private const int MaxKeyLength = 250;

    /// <summary>Like memcached's lru_pull_tail, look this far up an LRU tail for a dead item before evicting a live one.</summary>
    private const int TailSearchDepth = 5;

    /// <summary>A large item may need several smaller large items evicted; give up after this many.</summary>
    private const int LargeEvictionAttempts = 64;

    private const int MinShardCount = 64;
    private const int MaxShardCount = 1024;

    private readonly Shard[] _shards;
    private readonly int _shardShift;
    private readonly ulong _seed;
    private readonly SlabAllocator _slabs;
    private readonly TimeProvider _time;
    private readonly int _maxItemSize;
    private readonly bool _evictWhenFull;

    /// <summary>Unix seconds that <see cref="Entry.StoredAt"/> and <see cref="Entry.LastAccess"/> count from.</summary>
    private readonly long _epoch;

    private ulong _casCounter;
    private long _outOfMemoryErrors;
    private int _disposed;

    public SlabItemStore(StoreOptions options)
        : this(options, startSweeper: true)
    {
    }

    internal SlabItemStore(StoreOptions options, bool startSweeper)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Time);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxItemSize);

        _time = options.Time;
        _maxItemSize = options.MaxItemSize;
        _evictWhenFull = options.EvictWhenFull;
        _slabs = new SlabAllocator(options.GrowthFactor, options.MemoryLimit);
        _tiered = options.ValuesBeyondMemory && !options.EvictWhenFull;
        _coldClass = _slabs.LargeClass + 1;
        _epoch = Now();
        _seed = (ulong)Random.Shared.NextInt64();

        // Enough shards that threads rarely meet on a lock, a power of two so the top hash bits pick one.
        int shardCount = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(Environment.ProcessorCount * 4, MinShardCount, MaxShardCount));
        _shardShift = 64 - BitOperations.Log2((uint)shardCount);
        _shards = new Shard[shardCount];
        for (int i = 0; i < shardCount; i++)
        {
            _shards[i] = new Shard(i, _coldClass + 1);
        }

        if (startSweeper)
        {
            _sweepTimer = _time.CreateTimer(static state => ((SlabItemStore)state!).OnSweepTimer(), this, SweepInterval, SweepInterval);
        }
    }

    public long MemoryLimit
    {
        get => _slabs.Limit;
        set => _slabs.Limit = value;
    }

    /// <summary>
    /// Which of <paramref name="partitions"/> equal runs of shards holds <paramref name="key"/>: threads that each own a
    /// partition never touch the same item, so each key's changes keep their order (parallel replay).
    /// </summary>
    internal int PartitionOf(ReadOnlySpan<byte> key, int partitions)
    {
        ValidateKey(key);
        ulong hash = ItemHash.Compute(key, _seed);
        return (int)(hash >> _shardShift) * partitions / _shards.Length;
    }

    /// <summary>
    /// The one way into a key's item: validate, hash, pick and lock the shard, check the store is open, read the clock,
    /// find the live item. The caller disposes the result (a <c>using</c>) to release the lock. The lock is reentrant,
    /// so a meta operation may store through <see cref="StoreCore"/> while it holds its own lookup.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private LockedLookup Lookup(ReadOnlySpan<byte> key)
    {
        ValidateKey(key);
        ulong hash = ItemHash.Compute(key, _seed);
        Shard shard = ShardFor(hash);
        var scope = shard.Gate.EnterScope();
        if (Volatile.Read(ref _disposed) != 0)
        {
            scope.Dispose();
            ThrowIfDisposed();
        }

        long now = Now();
        return new LockedLookup(scope, shard, hash, now, FindLive(shard, hash, key, now));
    }

    public bool TryGet<TVisitor>(ReadOnlySpan<byte> key, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct =>
        Get(key, touch: false, 0, ref visitor);

    public bool TryGetAndTouch<TVisitor>(ReadOnlySpan<byte> key, long expiresAt, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct =>
        Get(key, touch: true, expiresAt, ref visitor);

    /// <summary>get and gat: a value in memory is shown under the lock; one only on disk is read after it is released.</summary>
    private bool Get<TVisitor>(ReadOnlySpan<byte> key, bool touch, long expiresAt, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct
    {
        ColdItem cold;
        using (var item = Lookup(key))
        {
            if (!item.Found)
            {
                return false;
            }

            if (touch)
            {
                SetExpiry(item, key, expiresAt);
            }

            Bump(item, fetched: true);
            if (!IsCold(ref item.Entry))
            {
                Visit(ref item.Entry, ref visitor);
                return true;
            }

            cold = new ColdItem(ref item.Entry, _epoch);
        }

        return VisitCold(key, cold, ref visitor);
    }

    public StoreResult Store(StoreMode mode, ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, uint flags, long expiresAt, ulong compareCas, out ulong cas) =>
        StoreCore(mode, key, new ItemValue(value), flags, expiresAt, compareCas, default, out cas, out _);

    /// <summary>
    /// Every store goes through here; <paramref name="meta"/> adds the meta protocol's options (a CAS
    /// compare in any mode, an explicit new CAS, invalidation, append autovivify). Takes the shard lock,
    /// which is reentrant, so meta operations may call it while already holding it.
    /// </summary>
    private StoreResult StoreCore(StoreMode mode, ReadOnlySpan<byte> key, scoped in ItemValue value, uint flags, long expiresAt, ulong compareCas, in MetaStoreOptions meta, out ulong cas, out int storedLength)
    {
        cas = 0;
        storedLength = 0;
        long incoming = value.Length;
        bool concatenates = mode is StoreMode.Append or StoreMode.Prepend;
        using var item = Lookup(key);

        Shard shard = item.Shard;
        long now = item.Now;
        int index = item.Index;

        // memcached refuses the size before looking at the mode, and a set that fails drops the old value.
        if (!FitsItemSize(key.Length, incoming, mode is StoreMode.Append or StoreMode.Prepend && index >= 0 ? shard.Entries[index].Flags : flags))
        {
            if (mode == StoreMode.Set && index >= 0)
            {
                RemoveItem(shard, index);
                _journal?.Removed(key);
            }

            return StoreResult.TooLarge;
        }

        if (meta.HasCompareCas)
        {
            compareCas = meta.CompareCas;

            // As memcached: set and replace with a CAS are compare-and-swap, so a missing key is not found.
            if (mode is StoreMode.Set or StoreMode.Replace)
            {
                mode = StoreMode.Cas;
            }
        }

        byte newBits = meta.MarkStale ? MetaBits.Stale : (byte)0;
        switch (mode)
        {
            case StoreMode.Add when index >= 0:
                // memcached's add still promotes the existing item in its LRU.
                shard.Entries[index].LastAccess = Relative(now);
                shard.LruBump(index);
                return StoreResult.NotStored;
            case StoreMode.Append or StoreMode.Prepend when index < 0 && meta.Vivify:
                // ms MA/MP with N: a miss creates the item from the data, with N's TTL.
                mode = StoreMode.Set;
                concatenates = false;
                expiresAt = meta.VivifyExpiresAt;
                break;
            case StoreMode.Replace or StoreMode.Append or StoreMode.Prepend when index < 0:
                return StoreResult.NotStored;
            case StoreMode.Cas when index < 0:
                return StoreResult.NotFound;
            case StoreMode.Cas or StoreMode.Replace or StoreMode.Append or StoreMode.Prepend
                when (mode == StoreMode.Cas || meta.HasCompareCas) && shard.Entries[index].Cas != compareCas:
                if (meta.Invalidate && compareCas < shard.Entries[index].Cas)
                {
                    // ms I: an older CAS may still store, but the item is marked stale and keeps its TTL.
                    newBits = (byte)(MetaBits.Stale | (shard.Entries[index].MetaBits & MetaBits.WinTokenSent));
                    expiresAt = shard.Entries[index].ExpiresAt;
                    break;
                }

                return StoreResult.Exists;
            default:
                break;
        }

        int oldValueLength = index >= 0 ? shard.Entries[index].ValueLength : 0;
        long newValueLength = concatenates ? oldValueLength + incoming : incoming;
        if (concatenates && !FitsItemSize(key.Length, newValueLength, shard.Entries[index].Flags))
        {
            return StoreResult.TooLarge;
        }

        if (concatenates && IsCold(ref shard.Entries[index]))
        {
            return ConcatenateOntoCold(item, key, value, mode, meta, newBits, out cas, out storedLength);
        }

        int valueLength = (int)newValueLength;
        int total = key.Length + valueLength;
        int slabClass = _slabs.ClassFor(total);

        if (index >= 0 && CanRewriteInPlace(ref shard.Entries[index], slabClass, total))
        {
            // Nobody can see these bytes without this shard's lock, so the chunk is rewritten where it is.
            ref Entry e = ref shard.Entries[index];
            byte* data = (byte*)e.Data + key.Length;
            switch (mode)
            {
                case StoreMode.Append:
                    value.CopyTo(new Span<byte>(data + oldValueLength, (int)incoming));
                    break;
                case StoreMode.Prepend:
                    new ReadOnlySpan<byte>(data, oldValueLength).CopyTo(new Span<byte>(data + incoming, oldValueLength));
                    value.CopyTo(new Span<byte>(data, (int)incoming));
                    break;
                default:
                    value.CopyTo(new Span<byte>(data, valueLength));
                    break;
            }

            shard.Resize(index, valueLength);
            shard.LruBump(index);
        }
        else
        {
            if (index >= 0)
            {
                // Off its LRU the old item cannot be chosen to make room for its own replacement.
                shard.LruRemove(index);
            }

            nint chunk = Allocate(shard, slabClass, total, now);
            if (chunk == 0 && _tiered)
            {
                // Nothing of this size to move to disk: the value goes to disk alone, memory refuses nothing.
                return StoreOnDiskOnly(item, key, value, mode, flags, expiresAt, meta, newBits, out cas, out storedLength);
            }

            if (chunk == 0)
            {
                Interlocked.Increment(ref _outOfMemoryErrors);
                if (index >= 0)
                {
                    shard.LruPushHead(index);
                    if (mode == StoreMode.Set)
                    {
                        RemoveItem(shard, index);
                        _journal?.Removed(key);
                    }
                }

                return StoreResult.OutOfMemory;
            }

            byte* target = (byte*)chunk;
            key.CopyTo(new Span<byte>(target, key.Length));
            target += key.Length;
            if (index >= 0)
            {
                ref Entry old = ref shard.Entries[index];
                var oldValue = new ReadOnlySpan<byte>((byte*)old.Data + old.KeyLength, oldValueLength);
                WriteJoined(mode, oldValue, value, new Span<byte>(target, valueLength));

                FreeData(old.SlabClass, old.Data, old.KeyLength + oldValueLength);
                shard.Rebind(index, chunk, valueLength, slabClass);
            }
            else
            {
                value.CopyTo(new Span<byte>(target, valueLength));
                index = shard.Insert(item.Hash, chunk, key.Length, valueLength, slabClass);
            }
        }

        ref Entry stored = ref shard.Entries[index];
        if (!concatenates)
        {
            stored.Flags = flags;
            stored.ExpiresAt = expiresAt;
        }

        FinishStore(shard, ref stored, now, meta, newBits);
        cas = stored.Cas;
        storedLength = stored.ValueLength;
        JournalStored(ref stored);
        return StoreResult.Stored;
    }

    /// <summary>What every store sets on the item it wrote, whether its value is in memory or only on disk.</summary>
    private void FinishStore(Shard shard, ref Entry stored, long now, in MetaStoreOptions meta, byte newBits)
    {
        stored.Cas = meta.NewCas != 0 ? meta.NewCas : NextCas();
        stored.StoredAt = Relative(meta.StoredAt != 0 ? meta.StoredAt : now);
        stored.LastAccess = stored.StoredAt;
        stored.Fetched = false;
        stored.MetaBits = newBits;

        // Replay and replication say where the record is; a journalled store learns it from the journal.
        stored.Location = meta.Location;
        shard.TotalItems++;
    }

    public DeleteResult Delete(ReadOnlySpan<byte> key)
    {
        using var item = Lookup(key);
        if (!item.Found)
        {
            return DeleteResult.NotFound;
        }

        Remove(item, key);
        return DeleteResult.Deleted;
    }

    public ArithmeticResult ApplyDelta(ReadOnlySpan<byte> key, bool increment, ulong delta, out ulong newValue)
    {
        var status = MetaApplyDelta(key, new MetaArithmeticOptions { Increment = increment, Delta = delta }, out var outcome);
        newValue = outcome.Value;
        return status switch
        {
            MetaStatus.Ok => ArithmeticResult.Ok,
            MetaStatus.NonNumeric => ArithmeticResult.NonNumeric,
            MetaStatus.OutOfMemory => ArithmeticResult.OutOfMemory,
            _ => ArithmeticResult.NotFound,
        };
    }

    public bool Touch(ReadOnlySpan<byte> key, long expiresAt)
    {
        using var item = Lookup(key);
        if (!item.Found)
        {
            return false;
        }

        SetExpiry(item, key, expiresAt);
        Bump(item, fetched: false);
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _sweepTimer?.Dispose();

        // Wait out a sweep tick in progress; later ones see _disposed.
        lock (_sweepGate)
        {
        }

        // Every operation checks _disposed under its shard lock, so once each lock has been taken here
        // nobody is left reading item bytes and the pages can go.
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                int large = _slabs.LargeClass;
                for (int i = 0; i < shard.HighWater; i++)
                {
                    ref Entry e = ref shard.Entries[i];
                    if (e.Data != 0 && (e.SlabClass == large || e.SlabClass == _coldClass))
                    {
                        FreeData(e.SlabClass, e.Data, e.KeyLength + e.ValueLength);
                    }
                }

                shard.Clear();
            }
        }

        _slabs.Dispose();
    }

    /// <summary>A read or touch: most recently used now, and (for reads) counted as fetched for memcached's unfetched statistics.</summary>
    private void Bump(scoped in LockedLookup item, bool fetched)
    {
        ref Entry e = ref item.Entry;
        e.Fetched |= fetched;
        e.LastAccess = Relative(item.Now);
        item.Shard.LruBump(item.Index);
    }

    /// <summary>A new expiry, journalled: touch, gat and mg T share it.</summary>
    private void SetExpiry(scoped in LockedLookup item, ReadOnlySpan<byte> key, long expiresAt)
    {
        item.Entry.ExpiresAt = expiresAt;
        _journal?.Touched(key, expiresAt);
    }

    /// <summary>The item goes, in memory and in the log.</summary>
    private void Remove(scoped in LockedLookup item, ReadOnlySpan<byte> key)
    {
        RemoveItem(item.Shard, item.Index);
        _journal?.Removed(key);
    }

    private void Visit<TVisitor>(ref Entry e, ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct
    {
        if (IsCold(ref e))
        {
            VisitColdLocked(ref e, ref visitor);
            return;
        }

        var view = ViewOf(ref e);
        visitor.Visit(in view);
    }

    /// <summary>An item as visitors and the journal see it: its bytes in place, its times in Unix seconds.</summary>
    private ItemView ViewOf(scoped ref Entry e)
    {
        byte* data = (byte*)e.Data;
        return new ItemView(
            new ReadOnlySpan<byte>(data, e.KeyLength),
            new ReadOnlySpan<byte>(data + e.KeyLength, e.ValueLength),
            e.Flags,
            e.ExpiresAt,
            e.Cas,
            _epoch + e.StoredAt,
            (e.MetaBits & MetaBits.Stale) != 0);
    }

    /// <summary>The item as it now stands goes to the log: every store, and meta changes that rewrite CAS, TTL or value.</summary>
    private void JournalStored(ref Entry e)
    {
        if (_journal is { } journal)
        {
            var view = ViewOf(ref e);
            e.Location = journal.Stored(view.Key, view.Value, view.Flags, view.ExpiresAt, view.Cas, view.StoredAt, view.Stale);
        }
    }

    /// <summary>The value a store leaves into fresh memory: the incoming bytes, or for append and prepend the old value joined with them.</summary>
    private static void WriteJoined(StoreMode mode, ReadOnlySpan<byte> oldValue, scoped in ItemValue incoming, Span<byte> destination)
    {
        switch (mode)
        {
            case StoreMode.Append:
                oldValue.CopyTo(destination);
                incoming.CopyTo(destination[oldValue.Length..]);
                break;
            case StoreMode.Prepend:
                incoming.CopyTo(destination);
                oldValue.CopyTo(destination[(int)incoming.Length..]);
                break;
            default:
                incoming.CopyTo(destination);
                break;
        }
    }

    private static void ValidateKey(ReadOnlySpan<byte> key)
    {
        if ((uint)(key.Length - 1) >= MaxKeyLength)
        {
            ThrowBadKey(key.Length, nameof(key));
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowBadKey(int length, string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, length, "Keys are 1 to 250 bytes; the protocol layer validates them.");

    /// <summary>In place when the new size lands in the same chunk class (or, for own allocations, the same size).</summary>
    private bool CanRewriteInPlace(ref Entry e, int slabClass, int total) =>
        e.SlabClass == slabClass && (slabClass != _slabs.LargeClass || e.KeyLength + e.ValueLength == total);

    private bool FitsItemSize(int keyLength, long valueLength, uint flags) => ItemLimits.Fits(keyLength, valueLength, flags, _maxItemSize);

    private Shard ShardFor(ulong hash) => _shards[(int)(hash >> _shardShift)];

    private ulong NextCas() => Interlocked.Increment(ref _casCounter);

    private long Now() => _time.GetUtcNow().ToUnixTimeSeconds();

    private int Relative(long unixSeconds) => (int)Math.Clamp(unixSeconds - _epoch, int.MinValue, int.MaxValue);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
