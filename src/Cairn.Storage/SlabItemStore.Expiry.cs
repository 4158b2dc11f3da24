namespace Cairn.Storage;

/// <summary>When items die: flush_all (now or delayed), the background sweep that reclaims expired items, and the test for dead.</summary>
public sealed partial class SlabItemStore
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>Index slots one sweep tick visits: a 10-million-item store is walked every few minutes.</summary>
    private const int SweepSlotsPerTick = 64 * 1024;

    /// <summary>Slots visited per shard lock, so a tick never holds one for long.</summary>
    private const int SweepSlotsPerLock = 1024;

    private readonly ITimer? _sweepTimer;
    private readonly Lock _sweepGate = new();
    private readonly Lock _flushGate = new();
    private int _sweepShard;

    /// <summary>A delayed flush_all whose moment has not been reached when it was set; 0 none.</summary>
    private long _pendingFlush;

    /// <summary>
    /// A delayed flush that has come and then been replaced by a newer flush_all: items stored before it
    /// stay dead, so moving the deadline forward can never bring them back.
    /// </summary>
    private long _appliedFlush = long.MinValue;

    public void FlushAll(long atUnixSeconds)
    {
        ThrowIfDisposed();
        long now = Now();
        lock (_flushGate)
        {
            long pending = _pendingFlush;
            if (pending != 0 && now >= pending && pending > _appliedFlush)
            {
                Volatile.Write(ref _appliedFlush, pending);
            }

            // As in memcached, the latest flush_all replaces an earlier delayed one.
            Volatile.Write(ref _pendingFlush, atUnixSeconds > now ? atUnixSeconds : 0);
        }

        if (atUnixSeconds > now)
        {
            _journal?.FlushScheduled(atUnixSeconds);
            return;
        }

        // Now (or a moment already past): the line is drawn by order, not by CAS (a client may choose any CAS
        // with meta E) nor by the clock (a store later in the same second must survive). Holding every shard
        // lock while the record is journalled and the items freed puts each store wholly before the flush, in
        // memory and in the log alike, or wholly after it; replay then drops everything before the record.
        RemoveAllLocked(() => _journal?.FlushedAll(Volatile.Read(ref _casCounter)));
    }

    /// <summary>Frees every item with all shard locks held (taken in index order; nothing else takes two).</summary>
    private void RemoveAllLocked(Action? whileLocked = null)
    {
        int locked = 0;
        try
        {
            foreach (Shard shard in _shards)
            {
                shard.Gate.Enter();
                locked++;
            }

            ThrowIfDisposed();
            whileLocked?.Invoke();
            foreach (Shard shard in _shards)
            {
                for (int i = 0; i < shard.HighWater; i++)
                {
                    if (shard.Entries[i].Data != 0)
                    {
                        RemoveItem(shard, i);
                    }
                }
            }
        }
        finally
        {
            for (int i = 0; i < locked; i++)
            {
                _shards[i].Gate.Exit();
            }
        }
    }

    /// <summary>Walks up to <paramref name="slotBudget"/> index slots from where the last sweep stopped; returns items reclaimed.</summary>
    internal int Sweep(int slotBudget)
    {
        lock (_sweepGate)
        {
            return SweepCore(slotBudget);
        }
    }

    /// <summary>Reclaims every dead item now (tests, and a cheap way to check the sweep's predicate).</summary>
    internal int SweepAll()
    {
        lock (_sweepGate)
        {
            int reclaimed = 0;
            foreach (Shard shard in _shards)
            {
                lock (shard.Gate)
                {
                    ThrowIfDisposed();
                    reclaimed += SweepRange(shard, 0, shard.HighWater, Now());
                }
            }

            return reclaimed;
        }
    }

    private void OnSweepTimer()
    {
        if (Volatile.Read(ref _disposed) != 0 || !_sweepGate.TryEnter())
        {
            return;
        }

        try
        {
            SweepCore(SweepSlotsPerTick);
        }
        finally
        {
            _sweepGate.Exit();
        }
    }

    private int SweepCore(int slotBudget)
    {
        int reclaimed = 0;
        int visitedShards = 0;
        while (slotBudget > 0 && visitedShards <= _shards.Length)
        {
            Shard shard = _shards[_sweepShard];
            bool finished;
            lock (shard.Gate)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    break;
                }

                int start = shard.SweepCursor;
                int end = (int)Math.Min(shard.HighWater, (long)start + Math.Min(slotBudget, SweepSlotsPerLock));
                reclaimed += SweepRange(shard, start, end, Now());
                slotBudget -= Math.Max(end - start, 1);
                finished = end >= shard.HighWater;
                shard.SweepCursor = finished ? 0 : end;
            }

            if (finished)
            {
                _sweepShard = (_sweepShard + 1) & (_shards.Length - 1);
                visitedShards++;
            }
        }

        return reclaimed;
    }

    private int SweepRange(Shard shard, int start, int end, long now)
    {
        int reclaimed = 0;
        for (int i = start; i < end; i++)
        {
            ref Entry e = ref shard.Entries[i];
            if (e.Data != 0 && IsDead(ref e, now))
            {
                CountReclaimed(shard, ref e, now);
                RemoveItem(shard, i);
                reclaimed++;
            }
        }

        return reclaimed;
    }

    private bool IsDead(ref Entry e, long now)
    {
        if (e.ExpiresAt != 0 && e.ExpiresAt <= now && !_restoring)
        {
            return true;
        }

        // Pending first: FlushAll publishes the applied deadline before replacing the pending one.
        long pending = Volatile.Read(ref _pendingFlush);
        long storedAt = _epoch + e.StoredAt;
        return storedAt < Volatile.Read(ref _appliedFlush) || (pending != 0 && now >= pending && storedAt < pending);
    }
}
