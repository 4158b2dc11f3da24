using System.Numerics;

namespace Cairn.Storage;

/// <summary>memcached's "stats" and "stats slabs" for the store: counters read from every shard, and their reset.</summary>
public sealed partial class SlabItemStore
{
    public StoreStatistics GetStatistics()
    {
        ThrowIfDisposed();
        long items = 0, totalItems = 0, bytes = 0, evictions = 0, reclaimed = 0, expiredUnfetched = 0, evictedUnfetched = 0, buckets = 0, getExpired = 0, getFlushed = 0;
        foreach (Shard shard in _shards)
        {
            // Unlocked reads: each counter is read whole, and statistics are a moment's estimate anyway.
            items += Volatile.Read(ref shard.Count);
            totalItems += Volatile.Read(ref shard.TotalItems);
            bytes += Volatile.Read(ref shard.Bytes);
            evictions += Volatile.Read(ref shard.Evictions);
            reclaimed += Volatile.Read(ref shard.Reclaimed);
            expiredUnfetched += Volatile.Read(ref shard.ExpiredUnfetched);
            evictedUnfetched += Volatile.Read(ref shard.EvictedUnfetched);
            buckets += Volatile.Read(ref shard.Buckets).Length;
            getExpired += Volatile.Read(ref shard.GetExpired);
            getFlushed += Volatile.Read(ref shard.GetFlushed);
        }

        return new StoreStatistics(
            CurrentItems: items,
            TotalItems: totalItems,
            Bytes: bytes + (items * ItemHeaderOverhead),
            MemoryLimit: MemoryLimit,
            Evictions: evictions,
            Reclaimed: reclaimed,
            ExpiredUnfetched: expiredUnfetched,
            EvictedUnfetched: evictedUnfetched,
            OutOfMemoryErrors: Volatile.Read(ref _outOfMemoryErrors),
            TotalMallocedPages: _slabs.AllocatedBytes,
            HashPowerLevel: BitOperations.Log2((ulong)buckets),
            GetExpired: getExpired,
            GetFlushed: getFlushed);
    }

    /// <summary>
    /// One row per slab class with pages or items, ids from 1 as in memcached. Items with their own
    /// allocation are reported as one more class with chunk size 0 and one "chunk" per item.
    /// </summary>
    public IReadOnlyList<SlabClassStatistics> GetSlabStatistics()
    {
        ThrowIfDisposed();
        int classCount = _slabs.ClassCount + 1;
        var items = new long[classCount];
        var evictions = new long[classCount];
        var oldestAge = new long[classCount];
        long now = Now();
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                ThrowIfDisposed();
                for (int c = 0; c < classCount; c++)
                {
                    items[c] += shard.ClassItems[c];
                    evictions[c] += shard.ClassEvictions[c];
                    int tail = shard.LruTail[c];
                    if (tail != 0)
                    {
                        long age = now - (_epoch + shard.Entries[tail - 1].LastAccess);
                        oldestAge[c] = Math.Max(oldestAge[c], age);
                    }
                }
            }
        }

        var rows = new List<SlabClassStatistics>();
        for (int c = 0; c < _slabs.ClassCount; c++)
        {
            SlabClassSnapshot slab = _slabs.Snapshot(c);
            if (slab.Pages == 0 && items[c] == 0)
            {
                continue;
            }

            long chunks = slab.Pages * slab.ChunksPerPage;
            rows.Add(new SlabClassStatistics(c + 1, slab.ChunkSize, slab.Pages, chunks, slab.UsedChunks, chunks - slab.UsedChunks, items[c], evictions[c], oldestAge[c]));
        }

        int large = _slabs.LargeClass;
        if (items[large] != 0 || evictions[large] != 0)
        {
            rows.Add(new SlabClassStatistics(large + 1, 0, 0, items[large], items[large], 0, items[large], evictions[large], oldestAge[large]));
        }

        return rows;
    }

    public void ResetStatistics()
    {
        ThrowIfDisposed();
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                shard.TotalItems = 0;
                shard.Evictions = 0;
                shard.Reclaimed = 0;
                shard.ExpiredUnfetched = 0;
                shard.EvictedUnfetched = 0;
                shard.GetExpired = 0;
                shard.GetFlushed = 0;
                Array.Clear(shard.ClassEvictions);
            }
        }

        Interlocked.Exchange(ref _outOfMemoryErrors, 0);
    }

    /// <summary>Managed bytes held by the index arrays (the only per-item memory on the GC heap).</summary>
    internal long IndexBytes
    {
        get
        {
            long bytes = 0;
            foreach (Shard shard in _shards)
            {
                lock (shard.Gate)
                {
                    bytes += shard.Entries.Bytes + ((long)shard.Buckets.Length * sizeof(int));
                }
            }

            return bytes;
        }
    }
}
