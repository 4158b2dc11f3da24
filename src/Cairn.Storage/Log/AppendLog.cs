using Cairn.Storage.Recovery;
using Cairn.Storage.Tiering;
using Microsoft.Extensions.Logging;

namespace Cairn.Storage.Log;

/// <summary>
/// The append-only log. Appends only copy the record into an in-memory batch under a short lock and return its
/// position; one writer thread writes each batch with a single positional write and, per <see cref="FsyncPolicy"/>,
/// fsyncs before publishing. <see cref="WaitForDurableAsync"/> completes once a position is published, so many
/// writers share one write and one fsync (group commit). "Appended" and "durable" are kept apart on purpose:
/// callers append under their own locks and wait for durability after releasing them.
/// This type ties the pieces together, each with its own lock: the <see cref="AppendBuffer"/> (appended position),
/// the <see cref="LogWriter"/> thread (written), the <see cref="CommitWaiters"/> (durable, as the policy defines it),
/// the <see cref="SegmentManifest"/>, the <see cref="LogCompactor"/>, and the <see cref="RecordLocator"/> that reads
/// records back.
/// </summary>
public sealed class AppendLog : IDisposable
{
    private readonly LogOptions _options;
    private readonly FileStream _lockFile;
    private readonly ILogger _log;
    private readonly LogMeter _meter = new();
    private readonly CancellationTokenSource _disposeCancellation = new();
    private readonly TimeSpan _recoveryDuration;
    private readonly CommitWaiters _waiters = new();
    private readonly AppendBuffer _buffer;
    private readonly SegmentManifest _manifest;
    private readonly RecordLocator _locator;
    private readonly LogWriter _writer;
    private readonly LogCompactor _compactor;

    /// <summary>Whether a waiting thread may write the pending batch itself: not under Always, whose fsync stays on the writer thread.</summary>
    private readonly bool _waitersWrite;
    private int _disposed;

    private AppendLog(LogOptions options, string directory, FileStream lockFile, RecoveredLog recovered)
    {
        _options = options;
        _lockFile = lockFile;
        _log = options.Logger;
        _recoveryDuration = recovered.Report.Duration;
        _manifest = new SegmentManifest(directory, recovered.Segments, options.BeforeIo);
        _locator = new RecordLocator(_manifest);
        _buffer = new AppendBuffer(_waiters, recovered.LastSequence, recovered.HighestCas);
        _writer = new LogWriter(options, directory, _buffer, _waiters, _manifest, _locator, _meter, recovered.LastSequence);
        _waitersWrite = options.Fsync != FsyncPolicy.Always;
        _compactor = new LogCompactor(options, directory, _buffer, _waiters, _manifest, _locator, _meter, _disposeCancellation.Token);
        _writer.Start();
    }

    /// <summary>
    /// Opens (or creates) the log in <paramref name="options"/>' directory, takes its LOCK, replays every record
    /// through <paramref name="replay"/> in order, cuts a torn tail, and leaves the log ready for appends.
    /// </summary>
    /// <exception cref="DataDirectoryLockedException">Another process or log holds the directory.</exception>
    /// <exception cref="LogCorruptionException">Damage with valid records after it, and TruncateAtCorruption is not set.</exception>
    public static AppendLog Open(LogOptions options, LogRecordHandler replay, out RecoveryReport report)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(replay);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Directory);
        ArgumentNullException.ThrowIfNull(options.Time);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.SegmentSize);

        var directory = Path.GetFullPath(options.Directory);
        if (!System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.CreateDirectory(directory);

            // The new directory's own entry must survive a power cut too.
            SegmentFiles.FsyncDirectory(Path.GetDirectoryName(directory) ?? directory);
        }

        var lockFile = AcquireLock(directory);
        try
        {
            var recovered = LogRecovery.Recover(directory, options, replay);
            report = recovered.Report;
            return new AppendLog(options, directory, lockFile, recovered);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>The sequence of the last record appended (not necessarily written yet): what a batch's replicas must reach.</summary>
    public ulong LastAppendedSequence => _buffer.LastAppendedSequence;

    /// <summary>The sequence of the last record the writer has written to its segment (what a log tail can read).</summary>
    public ulong LastWrittenSequence => _writer.LastWrittenSequence;

    /// <summary>The live segments as the manifest names them now: id, path, and whether it is a snapshot.</summary>
    public IReadOnlyList<(ulong Id, string Path, bool IsSnapshot)> LiveSegments() => _manifest.Live();

    internal ILogger Logger => _log;

    /// <summary>The logical position after the last appended record; positions only grow.</summary>
    public long AppendedPosition => _buffer.AppendedPosition;

    /// <summary>The logical position after the last byte the writer has written to a segment (readable, not necessarily synced).</summary>
    public long WrittenPosition => _locator.WrittenPosition;

    /// <summary>The highest position published as durable under the fsync policy: written for no and everysec, synced for always.</summary>
    public long DurablePosition => _waiters.DurablePosition;

    /// <summary>False while writes or fsyncs fail (the writer keeps retrying) and after Dispose; refuse writes meanwhile.</summary>
    public bool IsAcceptingWrites => _waiters.Failure is null && Volatile.Read(ref _disposed) == 0;

    /// <summary>Why writes are refused: the failed operation and the operating system's reason.</summary>
    public string? FailureReason => _waiters.Failure?.Message;

    /// <summary>Bytes in the live segments (headers included).</summary>
    public long LogBytes => _manifest.LogBytes;

    /// <summary>
    /// The live share of <see cref="LogBytes"/> as the caller reports it through <see cref="LogOptions.LiveBytes"/>
    /// (a live item costs 48 + key + value bytes as a Set record). Without that callback the log cannot tell dead
    /// bytes from live ones, and this is <see cref="LogBytes"/>.
    /// </summary>
    public long LiveBytesEstimate => _options.LiveBytes is { } live ? Math.Min(Math.Max(live(), 0), LogBytes) : LogBytes;

    /// <summary>Bytes that compaction would reclaim, by <see cref="LiveBytesEstimate"/>.</summary>
    public long DeadBytesEstimate => Math.Max(0, LogBytes - LiveBytesEstimate);

    /// <summary>Bytes of the snapshot the log starts with (0 before the first compaction).</summary>
    public long SnapshotBytes => _manifest.SnapshotBytes;

    /// <summary>Dead share of the log for a caller that knows its live bytes: 1 - live / <see cref="LogBytes"/>, clamped to [0, 1].</summary>
    public double DeadRatio(long liveBytes)
    {
        long total = LogBytes;
        return total <= 0 ? 0 : Math.Clamp(1.0 - ((double)liveBytes / total), 0, 1);
    }

    /// <summary>
    /// Appends any record under this log's next sequence and returns the position to wait on with
    /// <see cref="WaitForDurableAsync"/>: a store, delete, touch or flush built with <see cref="LogRecord"/>'s
    /// factories, or a decoded record shipped from a primary. The length is checked before the lock; under it the
    /// record is encoded in place in the append buffer.
    /// </summary>
    public long Append<TRecord>(scoped in TRecord record)
        where TRecord : IAppendableRecord, allows ref struct =>
        _buffer.Append(record);

    /// <summary>
    /// As <see cref="Append{TRecord}"/> for a caller that will wait for the record (a client's write, a replicated
    /// record): where the policy lets the waiter write the batch itself, the writer thread is not woken for it.
    /// </summary>
    internal long AppendThenWait<TRecord>(scoped in TRecord record)
        where TRecord : IAppendableRecord, allows ref struct =>
        _buffer.Append(record, wakeWriter: !_waitersWrite);

    /// <inheritdoc cref="LogWriter.WhenWrittenAfter"/>
    public Task WhenWrittenAfter(ulong sequence) => _writer.WhenWrittenAfter(sequence);

    /// <summary>
    /// Rewrites the log as one snapshot of the live items. <paramref name="snapshot"/> runs once, on a pool thread,
    /// after the seal; it must write every live item (and a pending delayed flush_all) through the writer.
    /// Appends and waits carry on throughout. Concurrent calls run one after the other.
    /// </summary>
    public Task CompactAsync(SnapshotSource snapshot, CancellationToken cancellationToken = default) =>
        CompactAsync(snapshot, afterSwitch: null, cancellationToken);

    /// <summary>
    /// As <see cref="CompactAsync(SnapshotSource, CancellationToken)"/>; <paramref name="afterSwitch"/> runs once MANIFEST
    /// names the snapshot and before the sealed segments are deleted, so whoever holds locations in them can move to the snapshot.
    /// </summary>
    public Task CompactAsync(SnapshotSource snapshot, Action? afterSwitch, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _compactor.CompactAsync(snapshot, afterSwitch, cancellationToken);
    }

    /// <summary>
    /// Completes when <paramref name="position"/> (from an Append) is published: written to the file under
    /// <see cref="FsyncPolicy.No"/> and <see cref="FsyncPolicy.EverySecond"/>, written and fsynced under
    /// <see cref="FsyncPolicy.Always"/>. Faults with <see cref="LogWriteException"/> when the write or fsync failed,
    /// or when the log is failing at the time of the call (the record stays queued and is written once the writer's
    /// retry succeeds, so a fault means "not known to be durable", not "discarded").
    /// </summary>
    public ValueTask WaitForDurableAsync(long position, CancellationToken cancellationToken = default)
    {
        if (position > _buffer.AppendedPosition && position > _waiters.DurablePosition)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, "beyond the last appended position");
        }

        if (position > _waiters.DurablePosition && _waitersWrite)
        {
            // Write the batch here if nobody is writing (no thread hop either way), else make sure the writer will.
            if (_writer.TryLead() && position <= _waiters.DurablePosition)
            {
                return ValueTask.CompletedTask;
            }

            _buffer.WakeWriter(onlyIfBatchWaiting: true);
        }

        return _waiters.WaitAsync(position, cancellationToken);
    }

    /// <summary>
    /// Reads the record at <paramref name="location"/> into <paramref name="destination"/> (exactly the record's length).
    /// A record appended but not yet written is waited for. Verifying the bytes is the caller's job.
    /// </summary>
    internal ColdReadStatus ReadAt(long location, Span<byte> destination)
    {
        if (DiskLocation.IsLogical(location))
        {
            long end = DiskLocation.LogicalPosition(location) + destination.Length;
            if (end > _locator.WrittenPosition && !WaitUntilWritten(end))
            {
                return ColdReadStatus.Unavailable;
            }
        }

        if (!_locator.TryResolve(location, out ulong segmentId, out long offset))
        {
            return ColdReadStatus.Moved;
        }

        try
        {
            if (!_locator.TryRead(segmentId, offset, destination, out int read))
            {
                return ColdReadStatus.Moved;
            }

            return read == destination.Length ? ColdReadStatus.Read : ColdReadStatus.Damaged;
        }
        catch (Exception error) when (IsIoFailure(error))
        {
            StorageLog.ColdReadFailed(_log, segmentId, offset, error.Message);
            return ColdReadStatus.Unavailable;
        }
    }

    private static bool IsIoFailure(Exception error) => error is IOException or UnauthorizedAccessException;

    private bool WaitUntilWritten(long end)
    {
        try
        {
            // Rare: a value leaves memory before the writer reached it. The wait is what the write's own client waits for.
            return _waiters.WaitAsync(end, CancellationToken.None).AsTask().Wait(_options.RetryInterval * 10);
        }
        catch (AggregateException)
        {
            return false;
        }
    }

    public LogStatistics GetStatistics()
    {
        long commits = _writer.GroupCommits;
        long records = _writer.RecordsWritten;
        return new LogStatistics(
            LogBytes,
            _manifest.Count,
            _writer.Fsyncs,
            commits,
            records,
            commits == 0 ? 0 : (double)records / commits,
            _writer.MaxRecordsPerCommit,
            _writer.WriteErrors,
            _writer.LastError,
            _compactor.Compactions,
            _compactor.LastCompactionDuration,
            LiveBytesEstimate,
            _recoveryDuration);
    }

    /// <summary>The manifest's segment paths, in order (for tests and diagnostics).</summary>
    internal string[] SegmentPaths() => _manifest.Paths();

    /// <summary>Writes and fsyncs what is buffered, closes the files and releases the directory lock.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposeCancellation.Cancel();
        _compactor.Dispose();
        StopWriter(abandon: false);
        _locator.Dispose();
        _lockFile.Dispose();
        _disposeCancellation.Dispose();
        _meter.Dispose();
    }

    /// <summary>
    /// For crash tests: stops as kill -9 would. Buffered records are dropped, nothing is flushed, fsynced or
    /// tidied; the files are closed and the lock released so the directory can be reopened in-process.
    /// </summary>
    internal void Abandon()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _disposeCancellation.Cancel();
        StopWriter(abandon: true);
        _locator.Dispose();
        _lockFile.Dispose();
    }

    private void StopWriter(bool abandon)
    {
        _buffer.Close(abandon);
        _writer.Join();
    }

    private static FileStream AcquireLock(string directory)
    {
        var path = Path.Combine(directory, SegmentFiles.LockName);
        FileStream stream;
        try
        {
            // On Unix, FileShare.None takes flock(LOCK_EX|LOCK_NB): per open file, so a second open in this
            // process fails as well as one from another process.
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException error) when (error is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
        {
            throw new DataDirectoryLockedException(directory, error);
        }

        try
        {
            if (!SegmentFiles.TryFlock(stream.SafeFileHandle))
            {
                throw new DataDirectoryLockedException(directory, null);
            }

            // For the operator: which process holds the directory.
            stream.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
            stream.Write(pid);
            stream.Flush();
            return stream;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }
}
