using Cairn.Storage.Log;
using Cairn.Storage.Recovery;
using Cairn.Storage.Tiering;

namespace Cairn.Storage.Durability;

/// <summary>
/// The store made durable: on open the log is replayed into it, then every change it reports is
/// appended; callers wait for <see cref="WaitForDurableAsync"/> before acknowledging writes. Compaction
/// runs on demand and in the background when dead bytes pass the configured share of the log.
/// </summary>
public sealed class DurableStore : IDisposable
{
    private readonly SlabItemStore _store;
    private readonly DurabilityOptions _options;
    private readonly SemaphoreSlim _compactionGate = new(1, 1);
    private readonly ITimer _compactionTimer;

    // Where the snapshot being written put each item, applied once MANIFEST names it (one compaction at a time).
    private SnapshotRelocations? _relocations;
    private int _disposed;

    private DurableStore(SlabItemStore store, AppendLog log, RecoveryReport recovery, DurabilityOptions options)
    {
        _store = store;
        Log = log;
        Recovery = recovery;
        _options = options;
        _compactionTimer = options.Time.CreateTimer(
            static state => _ = ((DurableStore)state!).CompactIfWorthwhileAsync(),
            this,
            options.CompactCheckInterval,
            options.CompactCheckInterval);
    }

    public AppendLog Log { get; }

    public RecoveryReport Recovery { get; }

    public bool IsAcceptingWrites => Log.IsAcceptingWrites && !IsAtDiskLimit;

    public string? FailureReason => Log.FailureReason ?? (IsAtDiskLimit ? DiskLimitReason : null);

    /// <summary>The log has reached --disk-limit: writes wait for compaction (or a higher limit).</summary>
    public bool IsAtDiskLimit => _options.DiskLimit > 0 && Log.LogBytes >= _options.DiskLimit;

    private string DiskLimitReason => $"the log holds {Log.LogBytes} bytes, at its --disk-limit of {_options.DiskLimit}";

    /// <summary>Replays the log in <paramref name="options"/>'s directory into <paramref name="store"/> and journals from then on.</summary>
    public static DurableStore Open(SlabItemStore store, DurabilityOptions options)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var logOptions = new LogOptions
        {
            Directory = options.DataDirectory,
            Fsync = options.Fsync,
            SegmentSize = options.SegmentSize,
            TruncateAtCorruption = options.TruncateAtCorruption,
            Time = options.Time,
            Logger = options.Logger,

            // Only the store knows what is live: a live item's Set record is exactly what its "bytes" counts.
            LiveBytes = () => store.GetStatistics().Bytes,
        };

        store.BeginRestore();
        AppendLog log;
        RecoveryReport report;
        try
        {
            if (SplitReplay.IsWorthwhile)
            {
                using var replay = new SplitReplay(store, (scoped in LogRecord record) => Apply(store, record));
                log = AppendLog.Open(logOptions, replay.Apply, out report);
                replay.Complete();
            }
            else
            {
                log = AppendLog.Open(logOptions, (scoped in LogRecord record) => Apply(store, record), out report);
            }
        }
        finally
        {
            store.CompleteRestore();
        }

        store.EnsureCasAbove(report.HighestCas);
        if (store.ValuesBeyondMemory)
        {
            store.AttachColdValues(new LogColdValues(log));
        }

        store.AttachJournal(new LogJournal(log));
        var durable = new DurableStore(store, log, report, options);

        // A log that is mostly garbage (say, a day of overwrites) is compacted before serving.
        if (durable.IsWorthCompacting())
        {
            durable.CompactAsync().GetAwaiter().GetResult();
        }

        return durable;
    }

    /// <summary>Completes once everything appended so far is as durable as the fsync policy promises.</summary>
    public ValueTask WaitForDurableAsync(CancellationToken cancellationToken = default) =>
        Log.WaitForDurableAsync(Log.AppendedPosition, cancellationToken);

    /// <summary>Rewrites the log as one snapshot of the live items; writes carry on meanwhile.</summary>
    public async Task CompactAsync(CancellationToken cancellationToken = default)
    {
        await _compactionGate.WaitAsync(cancellationToken);
        try
        {
            await Log.CompactAsync(WriteSnapshot, ApplyRelocations, cancellationToken);
        }
        finally
        {
            _compactionGate.Release();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _compactionTimer.Dispose();
        _compactionGate.Wait();
        Log.Dispose();
        _compactionGate.Dispose();
    }

    private bool IsWorthCompacting()
    {
        var statistics = Log.GetStatistics();
        if (statistics.LogBytes == 0)
        {
            return false;
        }

        double dead = Log.DeadRatio(_store.GetStatistics().Bytes);

        // Near the disk limit any reclaimable tenth is worth a rewrite; otherwise wait for the configured share.
        if (_options.DiskLimit > 0 && statistics.LogBytes >= _options.DiskLimit * 0.8)
        {
            return dead >= 0.1;
        }

        return statistics.LogBytes >= _options.CompactMinimumBytes && dead >= _options.CompactDeadRatio;
    }

    private async Task CompactIfWorthwhileAsync()
    {
        if (Volatile.Read(ref _disposed) != 0 || !IsWorthCompacting() || !await _compactionGate.WaitAsync(0))
        {
            return;
        }

        try
        {
            await Log.CompactAsync(WriteSnapshot, ApplyRelocations);
        }
        catch (Exception error) when (error is IOException or ObjectDisposedException)
        {
            StorageLog.BackgroundCompactionFailed(_options.Logger, error.Message);
        }
        finally
        {
            _compactionGate.Release();
        }
    }

    private void WriteSnapshot(SnapshotWriter writer)
    {
        // A flush_all still waiting for its moment must outlive the segments that recorded it.
        if (_store.PendingFlushAt is { } pending)
        {
            writer.WriteFlushDelayed(pending);
        }

        _relocations = _store.WriteLiveItems(new SnapshotRecordWriter(writer));
    }

    /// <summary>The snapshot is the log now: values kept only on disk are read from it from here on.</summary>
    private void ApplyRelocations()
    {
        if (Interlocked.Exchange(ref _relocations, null) is { } relocations)
        {
            _store.ApplyRelocations(relocations);
        }
    }

    /// <summary>From now on the store changes only through <see cref="ApplyReplicated"/> (a replica following a primary).</summary>
    public void BeginFollowing() => _store.DetachJournal();

    /// <summary>A replica promoted (or stopped following): client writes are journalled again.</summary>
    public void EndFollowing() => _store.AttachJournal(new LogJournal(Log));

    /// <summary>
    /// Applies a record shipped from the primary through the same code recovery uses, then logs its effect exactly
    /// (same CAS, times and marks), so the replica restarts from its own disk. Only while following.
    /// </summary>
    public void ApplyReplicated(scoped in LogRecord record)
    {
        // Logged first, so the store learns where the record lies and may keep the value only on disk.
        long end = Log.AppendThenWait(record);
        var located = record with { Location = DiskLocation.Logical(end - record.EncodedLength) };
        Apply(_store, located);
    }

    /// <summary>A full resync starts from nothing: every item goes, and the replica's own log records that it did.</summary>
    public void ResetForFullResync()
    {
        _store.RemoveEverything();
        Log.Append(LogRecord.FlushAll(_store.HighestCas));
    }

    /// <summary>What one log record does to the store, wherever records are applied (replay on one thread or two, a replica).</summary>
    internal static void Apply(SlabItemStore store, scoped in LogRecord record)
    {
        switch (record.Type)
        {
            case LogRecordType.Set:
                store.RestoreSet(record.Key, record.Value, record.Flags, record.ExpiresAt, record.Cas, record.StoredAt, record.Stale, record.Location);
                break;
            case LogRecordType.Delete:
                store.RestoreRemove(record.Key);
                break;
            case LogRecordType.Touch:
                store.RestoreTouch(record.Key, record.ExpiresAt);
                break;
            case LogRecordType.FlushAll:
                store.RestoreFlushAll(record.Cas);
                break;
            case LogRecordType.FlushDelayed:
                store.RestoreFlushScheduled(record.FlushAt);
                break;
        }
    }

    private sealed class SnapshotRecordWriter(SnapshotWriter writer) : IItemRecordWriter
    {
        public long Write(scoped in ItemView item) =>
            writer.WriteSet(item.Key, item.Value, item.Flags, item.ExpiresAt, item.Cas, item.StoredAt, item.Stale);
    }
}
