using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Log;

/// <summary>
/// The writer thread: takes each batch from the append buffer, writes it with one positional write at the segment's
/// end, fsyncs per the policy, publishes the position to the commit waiters, rotates segments and serves seals, and
/// retries a failed write or fsync until it works or the log closes. Everything here but the counters is the writer
/// thread's alone.
/// </summary>
internal sealed class LogWriter
{
    /// <summary>
    /// Batches written since the last good fsync, kept because a failed fsync may drop their dirty pages and
    /// they must then be written again. Bounded by fsyncing early past this many bytes (Redis fsyncs its rewrites
    /// incrementally for the same reason), so a fast writer under everysec costs more fsyncs, never unbounded memory.
    /// </summary>
    private const int MaxUnsyncedBytes = 8 * 1024 * 1024;

    private readonly LogOptions _options;
    private readonly string _directory;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly AppendBuffer _buffer;
    private readonly CommitWaiters _waiters;
    private readonly SegmentManifest _manifest;
    private readonly RecordLocator _locator;
    private readonly LogMeter _meter;
    private readonly Func<TimeSpan> _untilFsync;
    private readonly Thread _thread;
    private readonly UnsyncedRegion _unsynced = new();
    private SegmentInfo _current;
    private SafeFileHandle _currentHandle;
    private ulong _lastWrittenSequence;
    private long _lastFsyncTimestamp;
    private bool _dirty;
    private bool _rewriteUnsynced;
    private int _attemptsWhileClosing;

    private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _writtenAwaited;

    private long _fsyncs;
    private long _groupCommits;
    private long _recordsWritten;
    private long _maxRecordsPerCommit;
    private long _writeErrors;
    private string? _lastError;

    /// <summary>Opens the segment appends continue in (a new one after a snapshot or in a fresh log); <see cref="Start"/> runs the thread.</summary>
    public LogWriter(LogOptions options, string directory, AppendBuffer buffer, CommitWaiters waiters, SegmentManifest manifest, RecordLocator locator, LogMeter meter, ulong lastSequence)
    {
        _options = options;
        _directory = directory;
        _time = options.Time;
        _log = options.Logger;
        _buffer = buffer;
        _waiters = waiters;
        _manifest = manifest;
        _locator = locator;
        _meter = meter;
        _untilFsync = UntilFsync;
        _lastWrittenSequence = lastSequence;
        _lastFsyncTimestamp = _time.GetTimestamp();

        if (manifest.Newest is not { IsSnapshot: false } newest)
        {
            // A fresh log, or only a snapshot left: appends go to a new log segment after it.
            ulong id = (manifest.Newest?.Id ?? 0) + 1;
            var path = Path.Combine(directory, SegmentFiles.SegmentName(id));
            options.BeforeIo?.Invoke(LogIoOperation.CreateSegment);
            _currentHandle = SegmentFiles.CreateSegment(path, LogRecordCodec.KindLog, id, lastSequence, 0);
            _current = new SegmentInfo(id, LogRecordCodec.KindLog, path, LogRecordCodec.SegmentHeaderSize);
            try
            {
                manifest.Add(_current);
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

        _thread = new Thread(WriterLoop) { IsBackground = true, Name = "cairn-log-writer" };
    }

    /// <summary>The sequence of the last record written to its segment (what a log tail can read).</summary>
    public ulong LastWrittenSequence => Volatile.Read(ref _lastWrittenSequence);

    public long Fsyncs => Interlocked.Read(ref _fsyncs);

    public long GroupCommits => Interlocked.Read(ref _groupCommits);

    public long RecordsWritten => Interlocked.Read(ref _recordsWritten);

    public long MaxRecordsPerCommit => Interlocked.Read(ref _maxRecordsPerCommit);

    public long WriteErrors => Interlocked.Read(ref _writeErrors);

    public string? LastError => Volatile.Read(ref _lastError);

    public void Start() => _thread.Start();

    /// <summary>Waits for the thread to end; call after closing the append buffer.</summary>
    public void Join() => _thread.Join();

    /// <summary>
    /// Completes once the writer has written a record after <paramref name="sequence"/> (at once if it already has), so a
    /// replication stream sleeps until there is something to ship instead of polling. Costs the writer nothing while
    /// nobody waits.
    /// </summary>
    public Task WhenWrittenAfter(ulong sequence)
    {
        var written = Volatile.Read(ref _written);
        Interlocked.Exchange(ref _writtenAwaited, 1);
        return LastWrittenSequence > sequence ? Task.CompletedTask : written.Task;
    }

    private void SignalWritten()
    {
        // The exchange is a full fence after the sequence was published: a waiter either sees the new sequence or
        // its flag is seen here, so none sleeps through a write.
        if (Interlocked.Exchange(ref _writtenAwaited, 0) == 0)
        {
            return;
        }

        var done = Interlocked.Exchange(ref _written, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        done.TrySetResult();
    }

    private void WriterLoop()
    {
        try
        {
            while (true)
            {
                var work = _buffer.TakeWork(_untilFsync);
                if (work.Abandoned)
                {
                    return;
                }

                var seal = work.Seal;
                if (work.Batch is { } batch && !WriteBatch(batch, work.Length, work.Records, work.End, work.LastSequence))
                {
                    seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
                    return;
                }

                if (_options.Fsync == FsyncPolicy.EverySecond && _dirty && UntilFsync() == TimeSpan.Zero && !Sync("fsync of"))
                {
                    seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
                    return;
                }

                if (seal is not null && work.Closing)
                {
                    seal.Fail(new ObjectDisposedException(nameof(AppendLog)));
                    seal = null;
                }

                if ((seal is not null || _current.Length >= _options.SegmentSize) && !Rotate(seal))
                {
                    return;
                }

                if (work.Closing)
                {
                    // Everything appended before close was in this batch; make it durable whatever the policy.
                    Sync("closing fsync of");
                    return;
                }
            }
        }
        catch (Exception error)
        {
            // A bug, not an I/O fault (those are retried): stop accepting writes rather than pretend.
            EnterFailure(new LogWriteException("cairn log writer stopped: " + error.Message, error), logIt: true);
        }
        finally
        {
            StopWaiters();
            _currentHandle.Dispose();
        }
    }

    /// <summary>
    /// Under EverySecond with written bytes not yet fsynced, how long until they have waited a full interval (zero when
    /// they have); otherwise infinite.
    /// </summary>
    private TimeSpan UntilFsync()
    {
        if (_options.Fsync != FsyncPolicy.EverySecond || !_dirty)
        {
            return Timeout.InfiniteTimeSpan;
        }

        var remaining = _options.FsyncInterval - _time.GetElapsedTime(_lastFsyncTimestamp);
        return remaining <= TimeSpan.Zero ? TimeSpan.Zero : remaining;
    }

    /// <summary>Writes one batch at the segment's end, fsyncs it under Always, and publishes it. False when the log closed while the write kept failing.</summary>
    private bool WriteBatch(byte[] buffer, int length, int records, long end, ulong lastSequence)
    {
        LogRecordCodec.SealAll(buffer.AsSpan(0, length));
        long offset = _current.Length;
        bool keep = _options.Fsync == FsyncPolicy.EverySecond;
        if (keep && !_unsynced.IsEmpty && !_unsynced.Fits(length) && !Sync("fsync of"))
        {
            // Memory, not the clock, said it was time to fsync, and the log closed while that kept failing.
            return false;
        }

        // A batch bigger than the whole region is not kept; it is fsynced on its own instead.
        bool kept = keep && _unsynced.Fits(length);
        if (kept)
        {
            _unsynced.Append(buffer.AsSpan(0, length), offset);
        }

        while (true)
        {
            try
            {
                if (_rewriteUnsynced && !_unsynced.IsEmpty)
                {
                    // After a failed write or fsync the kernel may have dropped the pages: write it all again at the same offsets.
                    WriteUnsynced();
                    if (!kept)
                    {
                        WriteAt(buffer.AsSpan(0, length), offset);
                    }
                }
                else
                {
                    WriteAt(buffer.AsSpan(0, length), offset);
                }

                _rewriteUnsynced = false;
                _dirty = true;
                if (_options.Fsync == FsyncPolicy.Always || (keep && !kept))
                {
                    Fsync();
                }

                break;
            }
            catch (Exception error) when (IsIoFailure(error))
            {
                _rewriteUnsynced = true;
                if (!FailAndWait("writing", error))
                {
                    return false;
                }
            }
        }

        _current.Length += length;
        _manifest.Grew(length);
        _locator.Written(_current.Id, offset, end - length, end);
        Volatile.Write(ref _lastWrittenSequence, lastSequence);
        SignalWritten();
        Interlocked.Increment(ref _groupCommits);
        Interlocked.Add(ref _recordsWritten, records);
        _meter.Committed(records);
        if (records > Interlocked.Read(ref _maxRecordsPerCommit))
        {
            Interlocked.Exchange(ref _maxRecordsPerCommit, records);
        }

        // The bytes are in the file and, where a rewrite may be needed, in the unsynced region: the batch buffer is free.
        _buffer.ReturnBuffer(buffer);
        Publish(end);
        return true;
    }

    /// <summary>fsyncs the current segment (rewriting first if an earlier attempt failed), retrying until it works or the log closes.</summary>
    private bool Sync(string action)
    {
        while (true)
        {
            try
            {
                if (_rewriteUnsynced)
                {
                    WriteUnsynced();
                    _rewriteUnsynced = false;
                }

                if (_dirty)
                {
                    Fsync();
                }

                LeaveFailure();
                return true;
            }
            catch (Exception error) when (IsIoFailure(error))
            {
                _rewriteUnsynced = true;
                if (!FailAndWait(action, error))
                {
                    return false;
                }
            }
        }
    }

    /// <summary>
    /// Starts the next segment: the current one is fsynced first (whatever the policy), so a segment the manifest
    /// names is never followed by a successor while its own tail could still be lost. A seal (compaction) skips an
    /// id, which the snapshot takes, so the snapshot sorts between the sealed segments and the ones after.
    /// </summary>
    private bool Rotate(SealRequest? seal)
    {
        if (!Sync("fsync before rotating"))
        {
            seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
            return false;
        }

        var sealedSegment = _current;
        ulong id = sealedSegment.Id + (seal is null ? 1UL : 2UL);
        var path = Path.Combine(_directory, SegmentFiles.SegmentName(id));
        var next = new SegmentInfo(id, LogRecordCodec.KindLog, path, LogRecordCodec.SegmentHeaderSize);
        SafeFileHandle handle;
        while (true)
        {
            try
            {
                _options.BeforeIo?.Invoke(LogIoOperation.CreateSegment);
                handle = SegmentFiles.CreateSegment(path, LogRecordCodec.KindLog, id, _lastWrittenSequence, 0);
                try
                {
                    _manifest.Add(next);
                }
                catch
                {
                    handle.Dispose();
                    throw;
                }

                break;
            }
            catch (Exception error) when (IsIoFailure(error))
            {
                if (!FailAndWait("starting segment after", error))
                {
                    seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
                    return false;
                }
            }
        }

        LeaveFailure();
        _currentHandle.Dispose();
        _currentHandle = handle;
        _current = next;
        _dirty = false;
        seal?.Complete(new SealResult(sealedSegment.Id, _lastWrittenSequence, seal.HighestCas));
        return true;
    }

    private void WriteAt(ReadOnlySpan<byte> bytes, long offset)
    {
        _options.BeforeIo?.Invoke(LogIoOperation.Write);
        RandomAccess.Write(_currentHandle, bytes, offset);
    }

    private void WriteUnsynced()
    {
        if (!_unsynced.IsEmpty)
        {
            WriteAt(_unsynced.Bytes, _unsynced.StartOffset);
        }
    }

    private void Fsync()
    {
        _options.BeforeIo?.Invoke(LogIoOperation.Fsync);
        var started = _time.GetTimestamp();
        RandomAccess.FlushToDisk(_currentHandle);
        Interlocked.Increment(ref _fsyncs);
        _lastFsyncTimestamp = _time.GetTimestamp();
        _meter.Fsynced(_time.GetElapsedTime(started, _lastFsyncTimestamp));
        _dirty = false;
        _unsynced.Clear();
    }

    private void Publish(long end)
    {
        if (_waiters.Publish(end))
        {
            StorageLog.WritesRecovered(_log, _current.Path);
        }
    }

    private void LeaveFailure()
    {
        if (_waiters.ClearFailure())
        {
            StorageLog.WritesRecovered(_log, _current.Path);
        }
    }

    /// <summary>Records a failed write or fsync, faults the waiters, and waits before the retry. False when the log is closing and the last attempt failed too.</summary>
    private bool FailAndWait(string action, Exception error)
    {
        Interlocked.Increment(ref _writeErrors);
        var failure = new LogWriteException($"cairn log: {action} {_current.Path} failed: {error.Message}", error);
        Volatile.Write(ref _lastError, failure.Message);
        EnterFailure(failure, logIt: _waiters.Failure is null);
        return _buffer.WaitToRetry(_options.RetryInterval, ref _attemptsWhileClosing);
    }

    private void EnterFailure(LogWriteException failure, bool logIt)
    {
        if (logIt)
        {
            StorageLog.WritesFailing(_log, failure.Message, _options.RetryInterval.TotalSeconds);
        }

        _waiters.Fail(failure);
    }

    /// <summary>The writer is gone: whoever still waits for a position it did not publish is told so.</summary>
    private void StopWaiters()
    {
        _waiters.WriterStopped();
        _buffer.TakeUnservedSeal()?.Fail(new ObjectDisposedException(nameof(AppendLog)));
    }

    private static bool IsIoFailure(Exception error) => error is IOException or UnauthorizedAccessException;

    /// <summary>
    /// The bytes written to the current segment since its last good fsync, in one reused region. They are
    /// contiguous (the segment only grows, and rotation fsyncs first), so a rewrite is a single write.
    /// </summary>
    private sealed class UnsyncedRegion
    {
        private byte[] _bytes = [];

        public long StartOffset { get; private set; }

        public int Length { get; private set; }

        public bool IsEmpty => Length == 0;

        public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, Length);

        public bool Fits(int length) => (long)Length + length <= MaxUnsyncedBytes;

        public void Append(ReadOnlySpan<byte> data, long offset)
        {
            if (Length == 0)
            {
                StartOffset = offset;
            }

            if (_bytes.Length < Length + data.Length)
            {
                Array.Resize(ref _bytes, (int)Math.Min(MaxUnsyncedBytes, Math.Max((long)_bytes.Length * 2, Length + data.Length)));
            }

            data.CopyTo(_bytes.AsSpan(Length));
            Length += data.Length;
        }

        public void Clear() => Length = 0;
    }
}
