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
/// </summary>
public sealed partial class AppendLog : IDisposable
{
    private const int InitialBufferSize = 64 * 1024;

    /// <summary>The most bytes that may wait for the writer before appenders wait with them.</summary>
    private const int MaxBufferedBytes = 8 * 1024 * 1024;

    /// <summary>Batch buffers bigger than this (grown for a large value) are dropped after use rather than kept.</summary>
    private const int MaxPooledBufferSize = 8 * 1024 * 1024;

    private const int MaxSpareBytes = 16 * 1024 * 1024;

    private readonly LogOptions _options;
    private readonly string _directory;
    private readonly FileStream _lockFile;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Thread _writer;
    private readonly SemaphoreSlim _compactionGate = new(1, 1);
    private readonly LogMeter _meter = new();
    private readonly CancellationTokenSource _disposeCancellation = new();
    private readonly TimeSpan _recoveryDuration;

    // Appenders, under _appendLock (the writer pulses and waits on it too).
    private readonly object _appendLock = new();
    private readonly Stack<byte[]> _spareBuffers = new();
    private long _spareBytes;
    private byte[] _active = new byte[InitialBufferSize];
    private int _activeLength;
    private int _activeRecords;
    private long _appendedPosition;
    private ulong _lastSequence;
    private ulong _highestCas;
    private bool _writerIdle;
    private int _appendersWaitingForRoom;
    private bool _closing;
    private bool _abandoned;
    private SealRequest? _sealRequest;

    // Who waits for which position, under the waiters' own lock (taken inside _appendLock by the writer, never the other way round).
    private readonly CommitWaiters _waiters = new();

    // The live segments and their bytes, under the manifest's own lock (the writer adds on rotation, compaction replaces a prefix).
    private readonly SegmentManifest _manifest;

    // Reading records back by location (values only on disk), under its own lock.
    private readonly RecordLocator _locator;

    private long _fsyncs;
    private long _groupCommits;
    private long _recordsWritten;
    private long _maxRecordsPerCommit;
    private long _writeErrors;
    private string? _lastError;
    private long _compactions;
    private long _lastCompactionTicks;
    private int _disposed;

    private AppendLog(LogOptions options, string directory, FileStream lockFile, RecoveredLog recovered)
    {
        _options = options;
        _directory = directory;
        _lockFile = lockFile;
        _time = options.Time;
        _log = options.Logger;
        _recoveryDuration = recovered.Report.Duration;
        _manifest = new SegmentManifest(directory, recovered.Segments, options.BeforeIo);
        _locator = new RecordLocator(_manifest);
        _lastSequence = recovered.LastSequence;
        _lastWrittenSequence = recovered.LastSequence;
        _highestCas = recovered.HighestCas;
        _lastFsyncTimestamp = _time.GetTimestamp();

        if (_manifest.Newest is not { IsSnapshot: false } newest)
        {
            // A fresh log, or only a snapshot left: appends go to a new log segment after it.
            ulong id = (_manifest.Newest?.Id ?? 0) + 1;
            var path = Path.Combine(directory, SegmentFiles.SegmentName(id));
            options.BeforeIo?.Invoke(LogIoOperation.CreateSegment);
            _currentHandle = SegmentFiles.CreateSegment(path, LogRecordCodec.KindLog, id, _lastSequence, 0);
            _current = new SegmentInfo(id, LogRecordCodec.KindLog, path, LogRecordCodec.SegmentHeaderSize);
            try
            {
                _manifest.Add(_current);
            }
            catch
            {
                _currentHandle.Dispose();
                throw;
            }
        }
        else
        {
            _current = newest;
            _currentHandle = File.OpenHandle(_current.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        }

        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "cairn-log-writer" };
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
    public ulong LastAppendedSequence => Volatile.Read(ref _lastSequence);

    /// <summary>The sequence of the last record the writer has written to its segment (what a log tail can read).</summary>
    public ulong LastWrittenSequence => Volatile.Read(ref _lastWrittenSequence);

    /// <summary>The live segments as the manifest names them now: id, path, and whether it is a snapshot.</summary>
    public IReadOnlyList<(ulong Id, string Path, bool IsSnapshot)> LiveSegments() => _manifest.Live();

    internal ILogger Logger => _log;

    /// <summary>The logical position after the last appended record; positions only grow.</summary>
    public long AppendedPosition => Volatile.Read(ref _appendedPosition);

    /// <summary>The highest position published as durable under the fsync policy.</summary>
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
        where TRecord : IAppendableRecord, allows ref struct
    {
        int length = record.EncodedLength;
        lock (_appendLock)
        {
            record.Encode(Reserve(length), ++_lastSequence);
            _highestCas = Math.Max(_highestCas, record.CarriedCas);
            return Commit(length);
        }
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
        if (position > Volatile.Read(ref _appendedPosition) && position > _waiters.DurablePosition)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, "beyond the last appended position");
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
        long commits = Interlocked.Read(ref _groupCommits);
        long records = Interlocked.Read(ref _recordsWritten);
        return new LogStatistics(
            LogBytes,
            _manifest.Count,
            Interlocked.Read(ref _fsyncs),
            commits,
            records,
            commits == 0 ? 0 : (double)records / commits,
            Interlocked.Read(ref _maxRecordsPerCommit),
            Interlocked.Read(ref _writeErrors),
            Volatile.Read(ref _lastError),
            Interlocked.Read(ref _compactions),
            TimeSpan.FromTicks(Interlocked.Read(ref _lastCompactionTicks)),
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
        _compactionGate.Wait();
        StopWriter(abandon: false);
        _locator.Dispose();
        _lockFile.Dispose();
        _compactionGate.Dispose();
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
        lock (_appendLock)
        {
            _closing = true;
            if (abandon)
            {
                _abandoned = true;
                _activeLength = 0;
                _activeRecords = 0;
            }

            Monitor.PulseAll(_appendLock);
        }

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

    private Span<byte> Reserve(int length)
    {
        if (_closing)
        {
            ThrowClosed();
        }

        if (_active.Length - _activeLength < length)
        {
            MakeRoom(length);
        }

        return _active.AsSpan(_activeLength, length);
    }

    private long Commit(int length)
    {
        bool wasEmpty = _activeLength == 0;
        _activeLength += length;
        _activeRecords++;
        Volatile.Write(ref _appendedPosition, _appendedPosition + length);
        if (wasEmpty && _writerIdle)
        {
            // Once per batch, not per append: only the first record into an empty buffer wakes the writer.
            Monitor.PulseAll(_appendLock);
        }

        return _appendedPosition;
    }

    private void MakeRoom(int length)
    {
        // Backpressure: once this much waits for the writer, appenders wait too, so a burst faster than the
        // disk costs latency, not unbounded memory. A single larger record still goes into an empty batch.
        while (_activeLength > 0 && (long)_activeLength + length > MaxBufferedBytes)
        {
            _appendersWaitingForRoom++;
            Monitor.PulseAll(_appendLock);
            Monitor.Wait(_appendLock);
            _appendersWaitingForRoom--;
            if (_closing)
            {
                ThrowClosed();
            }
        }

        if (_active.Length - _activeLength >= length)
        {
            return;
        }

        // Doubling stops at the backpressure bound, so steady-state buffers stay small enough to be reused.
        long needed = (long)_activeLength + length;
        long wanted = Math.Max(Math.Min((long)_active.Length * 2, MaxBufferedBytes), needed);
        var bigger = new byte[(int)Math.Min(wanted, Array.MaxLength)];
        _active.AsSpan(0, _activeLength).CopyTo(bigger);
        _active = bigger;
    }

    private byte[] TakeSpareBuffer()
    {
        if (_spareBuffers.TryPop(out var buffer))
        {
            _spareBytes -= buffer.Length;
            return buffer;
        }

        return new byte[InitialBufferSize];
    }

    private void ReturnBuffer(byte[] buffer)
    {
        if (buffer.Length > MaxPooledBufferSize)
        {
            return;
        }

        lock (_appendLock)
        {
            // Spares are bounded in bytes (batches grow buffers up to the backpressure bound); the rest go to the GC.
            if (_spareBytes + buffer.Length <= MaxSpareBytes)
            {
                _spareBuffers.Push(buffer);
                _spareBytes += buffer.Length;
            }
        }
    }

    private static void ThrowClosed() => throw new ObjectDisposedException(nameof(AppendLog));
}
