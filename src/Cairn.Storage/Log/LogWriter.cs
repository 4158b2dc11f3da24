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

    // The writer's state below is touched only with this held: by the writer thread, or by a leader (TryLead).
    private readonly Lock _token = new();
    private PendingBatch? _handover;
    private bool _stopped;
    private SegmentInfo _current;
    private SafeFileHandle _currentHandle;
    private ulong _lastWrittenSequence;
    private long _lastFsyncTimestamp;
    private bool _dirty;
    private bool _rewriteUnsynced;
    private int _attemptsWhileClosing;

    private readonly WrittenSignal _writtenSignal = new();
    private readonly Func<ulong> _lastWritten;

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
        _lastWritten = () => LastWrittenSequence;
        _untilFsync = options.Fsync == FsyncPolicy.Always ? UntilFsync : UntilFsyncOrCheck;
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

    /// <inheritdoc cref="WrittenSignal.WhenWrittenAfter"/>
    public Task WhenWrittenAfter(ulong sequence) => _writtenSignal.WhenWrittenAfter(sequence, _lastWritten);

    /// <summary>
    /// Under <see cref="FsyncPolicy.No"/> and <see cref="FsyncPolicy.EverySecond"/>, a thread about to wait for its
    /// writes may write the pending batch itself instead of waking this thread and being woken back (leader/follower group
    /// commit): it takes the writer's token if free, takes the batch, writes it with one positional write and publishes
    /// it, which completes everyone who queued behind it. It declines (false) when the token is busy, the batch would
    /// need an fsync or a rotation first, or a failure is being retried; the writer thread does those. A write that
    /// fails here is handed to the writer thread, which retries it as its own.
    /// </summary>
    public bool TryLead()
    {
        if (!_token.TryEnter())
        {
            return false;
        }

        try
        {
            if (_stopped || _handover is not null || _rewriteUnsynced || _waiters.Failure is not null)
            {
                return false;
            }

            long room = _options.SegmentSize - _current.Length;
            if (_options.Fsync == FsyncPolicy.EverySecond)
            {
                room = Math.Min(room, _unsynced.Room);
            }

            var work = _buffer.TakeBatchNow(room);
            if (work.Batch is null)
            {
                return false;
            }

            bool wasDirty = _dirty;
            var batch = Prepare(work);
            if (_options.Fsync == FsyncPolicy.EverySecond)
            {
                // The room was checked above, so the batch is kept for a rewrite like any other.
                batch.Kept = true;
                _unsynced.Append(batch.Bytes, batch.Offset);
            }

            try
            {
                WriteOnce(batch);
            }
            catch (Exception error) when (IsIoFailure(error))
            {
                _rewriteUnsynced = true;
                _handover = batch;
                RecordFailure("writing", error);
                _buffer.WakeWriter(onlyIfBatchWaiting: false);
                return false;
            }

            Complete(batch);
            if (!wasDirty && _options.Fsync == FsyncPolicy.EverySecond)
            {
                // The file was clean, so the writer sleeps without a deadline: it must learn an fsync is now due.
                _buffer.WakeWriter(onlyIfBatchWaiting: false);
            }

            return true;
        }
        finally
        {
            _token.Exit();
        }
    }

    private void WriterLoop()
    {
        try
        {
            while (true)
            {
                _buffer.WaitForWork(_untilFsync);
                lock (_token)
                {
                    if (!Turn())
                    {
                        return;
                    }
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
            lock (_token)
            {
                _stopped = true;
                StopWaiters();
                _currentHandle.Dispose();
            }
        }
    }

    /// <summary>One turn of the writer, with its token held: false when the writer stops.</summary>
    private bool Turn()
    {
        if (_handover is { } handedOver)
        {
            // A leader's write failed: retried here as the writer's own, before anything newer.
            _handover = null;
            if (!FinishBatch(handedOver))
            {
                return false;
            }
        }

        var work = _buffer.TakeWork();
        if (work.Abandoned)
        {
            return false;
        }

        var seal = work.Seal;
        if (work.Batch is not null && !FinishBatch(Prepare(work)))
        {
            seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
            return false;
        }

        if (_options.Fsync == FsyncPolicy.EverySecond && _dirty && UntilFsync() == TimeSpan.Zero && !Sync("fsync of"))
        {
            seal?.Fail(new ObjectDisposedException(nameof(AppendLog)));
            return false;
        }

        if (seal is not null && work.Closing)
        {
            seal.Fail(new ObjectDisposedException(nameof(AppendLog)));
            seal = null;
        }

        if ((seal is not null || _current.Length >= _options.SegmentSize) && !Rotate(seal))
        {
            return false;
        }

        if (work.Closing)
        {
            // Everything appended before close was in this batch; make it durable whatever the policy.
            Sync("closing fsync of");
            return false;
        }

        return true;
    }

    /// <summary>
    /// Where leaders write, appends made for a waiter do not wake this thread; should the wait never come, the writer
    /// still finds the batch within this long.
    /// </summary>
    private static readonly TimeSpan UnwokenBatchCheck = TimeSpan.FromMilliseconds(100);

    private TimeSpan UntilFsyncOrCheck()
    {
        var untilFsync = UntilFsync();
        return untilFsync == Timeout.InfiniteTimeSpan || untilFsync > UnwokenBatchCheck ? UnwokenBatchCheck : untilFsync;
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

    /// <summary>A batch about to be written: its records sealed (CRCs) and its place at the segment's end.</summary>
    private PendingBatch Prepare(in WriterWork work)
    {
        var buffer = work.Batch!;
        LogRecordCodec.SealAll(buffer.AsSpan(0, work.Length));
        return new PendingBatch
        {
            Buffer = buffer,
            Length = work.Length,
            Records = work.Records,
            End = work.End,
            LastSequence = work.LastSequence,
            Offset = _current.Length,
        };
    }

    /// <summary>
    /// Writes a batch (retrying until it works or the log closes), fsyncs it where the policy or its size says, and
    /// publishes it. False when the log closed while the write kept failing.
    /// </summary>
    private bool FinishBatch(PendingBatch batch)
    {
        bool keep = _options.Fsync == FsyncPolicy.EverySecond;
        if (!batch.Kept)
        {
            if (keep && !_unsynced.IsEmpty && !_unsynced.Fits(batch.Length) && !Sync("fsync of"))
            {
                // Memory, not the clock, said it was time to fsync, and the log closed while that kept failing.
                return false;
            }

            // A batch bigger than the whole region is not kept; it is fsynced on its own instead.
            batch.Kept = keep && _unsynced.Fits(batch.Length);
            if (batch.Kept)
            {
                _unsynced.Append(batch.Bytes, batch.Offset);
            }
        }

        while (true)
        {
            try
            {
                WriteOnce(batch);
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

        Complete(batch);
        return true;
    }

    /// <summary>One attempt: the bytes at their offset (after rewriting what an earlier failure may have lost), and an fsync where one is owed.</summary>
    private void WriteOnce(in PendingBatch batch)
    {
        if (_rewriteUnsynced && !_unsynced.IsEmpty)
        {
            // After a failed write or fsync the kernel may have dropped the pages: write it all again at the same offsets.
            WriteUnsynced();
            if (!batch.Kept)
            {
                WriteAt(batch.Bytes, batch.Offset);
            }
        }
        else
        {
            WriteAt(batch.Bytes, batch.Offset);
        }

        _rewriteUnsynced = false;
        _dirty = true;
        if (_options.Fsync == FsyncPolicy.Always || (_options.Fsync == FsyncPolicy.EverySecond && !batch.Kept))
        {
            Fsync();
        }
    }

    /// <summary>The batch is in the file: count it, free its buffer, publish its end.</summary>
    private void Complete(in PendingBatch batch)
    {
        _current.Length += batch.Length;
        _manifest.Grew(batch.Length);
        _locator.Written(_current.Id, batch.Offset, batch.End - batch.Length, batch.End);
        Volatile.Write(ref _lastWrittenSequence, batch.LastSequence);
        _writtenSignal.Signal();
        Interlocked.Increment(ref _groupCommits);
        Interlocked.Add(ref _recordsWritten, batch.Records);
        _meter.Committed(batch.Records);
        if (batch.Records > Interlocked.Read(ref _maxRecordsPerCommit))
        {
            Interlocked.Exchange(ref _maxRecordsPerCommit, batch.Records);
        }

        // The bytes are in the file and, where a rewrite may be needed, in the unsynced region: the batch buffer is free.
        _buffer.ReturnBuffer(batch.Buffer);
        Publish(batch.End);
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
        RecordFailure(action, error);
        return _buffer.WaitToRetry(_options.RetryInterval, ref _attemptsWhileClosing);
    }

    private void RecordFailure(string action, Exception error)
    {
        Interlocked.Increment(ref _writeErrors);
        var failure = new LogWriteException($"cairn log: {action} {_current.Path} failed: {error.Message}", error);
        Volatile.Write(ref _lastError, failure.Message);
        EnterFailure(failure, logIt: _waiters.Failure is null);
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
}
