using Cairn.Storage.Tiering;

namespace Cairn.Storage;

/// <summary>
/// What durability needs from the store: a journal that hears every change, replay of recorded effects
/// (with their original CAS and store time) on start, and a consistent walk of the live items for
/// compaction snapshots.
/// </summary>
public sealed unsafe partial class SlabItemStore
{
    private IStoreJournal? _journal;

    /// <summary>
    /// While replaying, expiry is not judged: every journalled change was made while its item was live,
    /// so it must apply even if the item has expired by the restart's clock.
    /// </summary>
    private volatile bool _restoring;

    /// <summary>Replay is about to start; call <see cref="CompleteRestore"/> when it ends.</summary>
    public void BeginRestore() => _restoring = true;

    /// <summary>Replay ended: items that expired while the server was down are reclaimed now.</summary>
    public void CompleteRestore()
    {
        _restoring = false;
        SweepAll();
    }

    /// <summary>A delayed flush_all that has not come yet, if any.</summary>
    public long? PendingFlushAt
    {
        get
        {
            long pending = Volatile.Read(ref _pendingFlush);
            return pending > Now() ? pending : null;
        }
    }

    /// <summary>The highest CAS handed out so far.</summary>
    public ulong HighestCas => Volatile.Read(ref _casCounter);

    /// <summary>From now on every change is reported to <paramref name="journal"/>. Attach after replay.</summary>
    public void AttachJournal(IStoreJournal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        Volatile.Write(ref _journal, journal);
    }

    /// <summary>Stops reporting changes: a replica's store is changed only by what it applies, which it logs itself.</summary>
    public void DetachJournal() => Volatile.Write(ref _journal, null);

    /// <summary>Removes every item without a record: a replica about to receive a full copy of its primary.</summary>
    public void RemoveEverything() => RemoveAllLocked();

    /// <summary>CAS values continue above everything a previous run handed out.</summary>
    public void EnsureCasAbove(ulong cas) => RaiseTo(ref _casCounter, cas);

    /// <summary>Replays a recorded store: the value as it was, with its CAS and store time, in one locked lookup.</summary>
    public void RestoreSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale = false) =>
        RestoreSet(key, value, flags, expiresAt, cas, storedAt, stale, DiskLocation.Unknown);

    /// <summary>As above, knowing where the record lies, so the value may stay only on disk.</summary>
    internal void RestoreSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale, long location)
    {
        EnsureCasAbove(cas);
        var restored = new MetaStoreOptions { NewCas = cas, StoredAt = storedAt, MarkStale = stale, Location = location };
        if (StoreCore(StoreMode.Set, key, new ItemValue(value), flags, expiresAt, 0, restored, out _, out _) != StoreResult.Stored)
        {
            throw new InvalidOperationException($"replay could not store an item of {value.Length} bytes: raise -m or -I to at least what the previous run used");
        }
    }

    public void RestoreRemove(ReadOnlySpan<byte> key) => Delete(key);

    public void RestoreTouch(ReadOnlySpan<byte> key, long expiresAt) => Touch(key, expiresAt);

    /// <summary>Replays an immediate flush_all: everything before it in the log is gone, exactly as in memory.</summary>
    public void RestoreFlushAll(ulong highestCas)
    {
        EnsureCasAbove(highestCas);
        RemoveAllLocked();
    }

    public void RestoreFlushScheduled(long atUnixSeconds)
    {
        lock (_flushGate)
        {
            if (atUnixSeconds <= Now())
            {
                // The moment passed while the server was down: items stored before it are dead for good.
                if (atUnixSeconds > _appliedFlush)
                {
                    Volatile.Write(ref _appliedFlush, atUnixSeconds);
                }
            }
            else
            {
                Volatile.Write(ref _pendingFlush, atUnixSeconds);
            }
        }
    }

    /// <summary>
    /// Shows every live item to the visitor, one shard at a time under that shard's lock, so each item
    /// is seen whole; items changing meanwhile in other shards are caught by the journal after the seal.
    /// </summary>
    public void ForEachLiveItem<TVisitor>(ref TVisitor visitor)
        where TVisitor : IItemVisitor, allows ref struct
    {
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                ThrowIfDisposed();
                long now = Now();
                for (int i = 0; i < shard.HighWater; i++)
                {
                    ref Entry e = ref shard.Entries[i];
                    if (e.Data != 0 && !IsDead(ref e, now))
                    {
                        Visit(ref e, ref visitor);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Writes every live item through <paramref name="writer"/> (a compaction snapshot). Values in memory are written
    /// under their shard's lock; values only on disk are noted under it and read and written after it is released, so
    /// the disk reads never hold a shard. That is still exact: a change after the seal is in the log after the snapshot.
    /// With values beyond memory, also notes where each item's record now lies, for <see cref="ApplyRelocations"/>
    /// once the snapshot is the log.
    /// </summary>
    internal SnapshotRelocations? WriteLiveItems(IItemRecordWriter writer)
    {
        var relocations = _tiered ? new SnapshotRelocations(_shards.Length) : null;
        var visitor = new RecordingVisitor(writer);
        var cold = new List<(int Index, ColdItem Item, byte[] Key)>();
        foreach (Shard shard in _shards)
        {
            lock (shard.Gate)
            {
                ThrowIfDisposed();
                long now = Now();
                for (int i = 0; i < shard.HighWater; i++)
                {
                    ref Entry e = ref shard.Entries[i];
                    if (e.Data == 0 || IsDead(ref e, now))
                    {
                        continue;
                    }

                    if (IsCold(ref e))
                    {
                        cold.Add((i, new ColdItem(ref e, _epoch), new ReadOnlySpan<byte>((void*)e.Data, e.KeyLength).ToArray()));
                        continue;
                    }

                    Visit(ref e, ref visitor);
                    if (relocations is not null && e.Location != DiskLocation.Unknown)
                    {
                        relocations.Add(shard.Id, i, e.Location, visitor.Location);
                    }
                }
            }

            foreach (var (index, item, key) in cold)
            {
                long location = WriteColdItem(writer, item, key);
                relocations?.Add(shard.Id, index, item.Location, location);
            }

            cold.Clear();
        }

        return relocations;
    }

    private long WriteColdItem(IItemRecordWriter writer, in ColdItem item, byte[] key)
    {
        using var value = new RentedValue(item.ValueLength);

        // Only compaction moves records, and compactions run one at a time: the record is where it was noted.
        if (ReadCold(item.Location, key, item.Cas, value.Span, lastAttempt: true) != ColdReadStatus.Read)
        {
            // A snapshot without it would lose it when the old segments go: better no snapshot.
            throw new IOException("a value kept only on disk could not be read (see the error logged before); the log is unchanged");
        }

        return writer.Write(item.View(key, value.Span));
    }

    /// <summary>The snapshot is now the log: items whose record has not changed since it was written point into it.</summary>
    internal void ApplyRelocations(SnapshotRelocations relocations)
    {
        foreach (Shard shard in _shards)
        {
            var moves = relocations.Of(shard.Id);
            lock (shard.Gate)
            {
                foreach (var move in moves)
                {
                    ref Entry e = ref shard.Entries[move.Index];
                    if (e.Data != 0 && e.Location == move.From)
                    {
                        e.Location = move.To;
                    }
                }
            }
        }
    }

    /// <summary>Atomically lifts <paramref name="target"/> to <paramref name="value"/>; never lowers it.</summary>
    private static void RaiseTo(ref ulong target, ulong value)
    {
        ulong current;
        do
        {
            current = Volatile.Read(ref target);
            if (current >= value)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref target, value, current) != current);
    }

    private struct RecordingVisitor(IItemRecordWriter writer) : IItemVisitor
    {
        public long Location;

        public void Visit(scoped in ItemView item) => Location = writer.Write(in item);
    }
}

/// <summary>Writes an item as a record and says where it went (<see cref="DiskLocation"/>).</summary>
internal interface IItemRecordWriter
{
    long Write(scoped in ItemView item);
}

/// <summary>Per shard, which entries' records a snapshot rewrote and where to: applied only once the snapshot is the log.</summary>
internal sealed class SnapshotRelocations(int shards)
{
    private readonly List<Relocation>[] _byShard = Enumerable.Range(0, shards).Select(_ => new List<Relocation>()).ToArray();

    public void Add(int shard, int index, long from, long to) => _byShard[shard].Add(new Relocation(index, from, to));

    public List<Relocation> Of(int shard) => _byShard[shard];

    internal readonly record struct Relocation(int Index, long From, long To);
}
