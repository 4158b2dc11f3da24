using System.Runtime.InteropServices;

namespace Cairn.Storage;

/// <summary>Finding space: slab chunks, own allocations, reclaiming dead items and evicting live ones.</summary>
public sealed unsafe partial class SlabItemStore
{
    /// <summary>Memory for <paramref name="size"/> bytes of class <paramref name="slabClass"/>, or 0 when full. Called with <paramref name="current"/> locked.</summary>
    private nint Allocate(Shard current, int slabClass, int size, long now)
    {
        if (slabClass == _slabs.LargeClass)
        {
            return AllocateLarge(current, size, now);
        }

        nint chunk = _slabs.TryAllocate(slabClass);
        if (chunk != 0)
        {
            return chunk;
        }

        // No free chunk and no page within the limit: take one from a dead or (with --evict) least
        // recently used item of the same class, starting with the shard already locked.
        chunk = TakeFromLru(current, slabClass, now, out _);
        if (chunk != 0)
        {
            return chunk;
        }

        int mask = _shards.Length - 1;
        for (int i = 1; i < _shards.Length && chunk == 0; i++)
        {
            Shard other = _shards[(current.Id + i) & mask];

            // Only try: another thread may hold that shard while looking for space in ours.
            if (!other.Gate.TryEnter())
            {
                continue;
            }

            try
            {
                if (Volatile.Read(ref _disposed) == 0)
                {
                    chunk = TakeFromLru(other, slabClass, now, out _);
                }
            }
            finally
            {
                other.Gate.Exit();
            }
        }

        // Another thread may have freed a chunk while we looked.
        return chunk != 0 ? chunk : _slabs.TryAllocate(slabClass);
    }

    private nint AllocateLarge(Shard current, int size, long now)
    {
        for (int attempt = 0; attempt < LargeEvictionAttempts; attempt++)
        {
            nint block = _slabs.TryAllocateLarge(size);
            if (block != 0)
            {
                return block;
            }

            // Own allocations only make room for each other; slab pages are never returned.
            if (!FreeOneLarge(current, now))
            {
                return 0;
            }
        }

        return 0;
    }

    private bool FreeOneLarge(Shard current, long now)
    {
        int large = _slabs.LargeClass;
        nint victim = TakeFromLru(current, large, now, out int victimSize);
        int mask = _shards.Length - 1;
        for (int i = 1; i < _shards.Length && victim == 0; i++)
        {
            Shard other = _shards[(current.Id + i) & mask];
            if (!other.Gate.TryEnter())
            {
                continue;
            }

            try
            {
                if (Volatile.Read(ref _disposed) == 0)
                {
                    victim = TakeFromLru(other, large, now, out victimSize);
                }
            }
            finally
            {
                other.Gate.Exit();
            }
        }

        if (victim == 0)
        {
            return false;
        }

        _slabs.FreeLarge(victim, victimSize);
        return true;
    }

    /// <summary>
    /// Detaches a dead item near the tail of a class's LRU or, when evicting is allowed, the tail
    /// itself, and hands over its memory. Entries off their LRU (being replaced) are never chosen.
    /// </summary>
    private nint TakeFromLru(Shard shard, int slabClass, long now, out int size)
    {
        size = 0;
        int link = shard.LruTail[slabClass];
        for (int depth = 0; link != 0 && depth < TailSearchDepth; depth++)
        {
            int index = link - 1;
            ref Entry e = ref shard.Entries[index];
            link = e.LruPrev;
            if (IsDead(ref e, now))
            {
                CountReclaimed(shard, ref e, now);
                return Detach(shard, index, out size);
            }
        }

        if (_tiered)
        {
            return DemoteFromTail(shard, slabClass, out size);
        }

        if (!_evictWhenFull || shard.LruTail[slabClass] == 0)
        {
            return 0;
        }

        int victim = shard.LruTail[slabClass] - 1;
        ref Entry tail = ref shard.Entries[victim];

        // An eviction changes what a restart would see, so the journal hears of it like a delete.
        _journal?.Removed(new ReadOnlySpan<byte>((void*)tail.Data, tail.KeyLength));
        shard.Evictions++;
        shard.ClassEvictions[slabClass]++;
        if (!tail.Fetched)
        {
            shard.EvictedUnfetched++;
        }

        return Detach(shard, victim, out size);
    }

    private static nint Detach(Shard shard, int index, out int size)
    {
        ref Entry e = ref shard.Entries[index];
        nint data = e.Data;
        size = e.KeyLength + e.ValueLength;
        shard.Remove(index);
        return data;
    }

    /// <summary>The index of the key's live item, or -1; a dead one met on the way is reclaimed.</summary>
    private int FindLive(Shard shard, ulong hash, ReadOnlySpan<byte> key, long now)
    {
        int index = shard.Find(hash, key);
        if (index >= 0 && IsDead(ref shard.Entries[index], now))
        {
            ref Entry dead = ref shard.Entries[index];
            if (dead.ExpiresAt != 0 && dead.ExpiresAt <= now)
            {
                shard.GetExpired++;
            }
            else
            {
                shard.GetFlushed++;
            }

            CountReclaimed(shard, ref dead, now);
            RemoveItem(shard, index);
            return -1;
        }

        return index;
    }

    private void RemoveItem(Shard shard, int index)
    {
        ref Entry e = ref shard.Entries[index];
        int slabClass = e.SlabClass;
        nint data = e.Data;
        int size = e.KeyLength + e.ValueLength;
        shard.Remove(index);
        FreeData(slabClass, data, size);
    }

    private void FreeData(int slabClass, nint data, int size)
    {
        if (slabClass == _slabs.LargeClass)
        {
            _slabs.FreeLarge(data, size);
        }
        else if (slabClass == _coldClass)
        {
            NativeMemory.Free((void*)data);
        }
        else
        {
            _slabs.Free(slabClass, data);
        }
    }

    private static void CountReclaimed(Shard shard, ref Entry e, long now)
    {
        shard.Reclaimed++;
        if (!e.Fetched && e.ExpiresAt != 0 && e.ExpiresAt <= now)
        {
            shard.ExpiredUnfetched++;
        }
    }
}
