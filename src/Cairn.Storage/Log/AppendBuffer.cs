namespace Cairn.Storage.Log;

/// <summary>
/// Where appends land: records are encoded under one short lock into the active batch buffer, which the writer swaps for
/// a spare when it takes the batch. Owns the appended position and sequence, the backpressure bound, and the requests
/// that reach the writer through the same lock (a seal for compaction, closing). Its lock is the only one appenders take.
/// </summary>
internal sealed class AppendBuffer
{
    private const int InitialBufferSize = 64 * 1024;

    /// <summary>The most bytes that may wait for the writer before appenders wait with them.</summary>
    private const int MaxBufferedBytes = 8 * 1024 * 1024;

    /// <summary>Batch buffers bigger than this (grown for a large value) are dropped after use rather than kept.</summary>
    private const int MaxPooledBufferSize = 8 * 1024 * 1024;

    private const int MaxSpareBytes = 16 * 1024 * 1024;

    private readonly object _lock = new();
    private readonly CommitWaiters _waiters;
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
    private bool _wakeRequested;
    private SealRequest? _sealRequest;

    public AppendBuffer(CommitWaiters waiters, ulong lastSequence, ulong highestCas)
    {
        _waiters = waiters;
        _lastSequence = lastSequence;
        _highestCas = highestCas;
    }

    /// <summary>The logical position after the last appended record; positions only grow.</summary>
    public long AppendedPosition => Volatile.Read(ref _appendedPosition);

    public ulong LastAppendedSequence => Volatile.Read(ref _lastSequence);

    /// <summary>
    /// Encodes the record into the active batch. <paramref name="wakeWriter"/> false leaves the writer asleep, for a
    /// caller that is about to wait for the record and may write the batch itself (see <see cref="LogWriter.TryLead"/>).
    /// </summary>
    public long Append<TRecord>(scoped in TRecord record, bool wakeWriter = true)
        where TRecord : IAppendableRecord, allows ref struct
    {
        int length = record.EncodedLength;
        lock (_lock)
        {
            record.Encode(Reserve(length), ++_lastSequence);
            _highestCas = Math.Max(_highestCas, record.CarriedCas);
            return Commit(length, wakeWriter);
        }
    }

    /// <summary>
    /// For a leader holding the writer's token: the active batch, if it is not empty, fits in <paramref name="maxLength"/>
    /// and nothing else (a seal, a close) is pending; registered with the commit waiters as the writer's batches are.
    /// </summary>
    public WriterWork TakeBatchNow(long maxLength)
    {
        lock (_lock)
        {
            if (_activeLength == 0 || _activeLength > maxLength || _sealRequest is not null || _closing)
            {
                return default;
            }

            return TakeActive(new WriterWork());
        }
    }

    /// <summary>Makes the writer look again: a batch appended without waking it, a failed write handed to it, an fsync to schedule.</summary>
    public void WakeWriter(bool onlyIfBatchWaiting)
    {
        lock (_lock)
        {
            if (onlyIfBatchWaiting && _activeLength == 0)
            {
                return;
            }

            _wakeRequested = true;
            if (_writerIdle)
            {
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>
    /// The writer's wait, without the writer's token: returns once there is a batch, a seal, a close or a wake request,
    /// or when <paramref name="untilFsync"/> (how long until an fsync is due: zero for now, infinite for never) runs out.
    /// </summary>
    public void WaitForWork(Func<TimeSpan> untilFsync)
    {
        lock (_lock)
        {
            while (_activeLength == 0 && _sealRequest is null && !_closing && !_wakeRequested)
            {
                var wait = untilFsync();
                if (wait == TimeSpan.Zero)
                {
                    break;
                }

                _writerIdle = true;
                Monitor.Wait(_lock, wait);
                _writerIdle = false;
            }

            _wakeRequested = false;
        }
    }

    /// <summary>
    /// With the writer's token held: the active batch (if any), a seal and whether the log is closing. Batches are only
    /// taken under the token, so the commit waiters see one batch in flight at a time; a batch taken here is registered
    /// with them inside this lock, so no later append can join its waiters.
    /// </summary>
    public WriterWork TakeWork()
    {
        lock (_lock)
        {
            if (_abandoned)
            {
                return new WriterWork { Abandoned = true };
            }

            var work = new WriterWork { Closing = _closing };
            if (_activeLength > 0)
            {
                work = TakeActive(work);
            }

            if (_sealRequest is { } seal)
            {
                _sealRequest = null;
                seal.HighestCas = _highestCas;
                work = work with { Seal = seal };
            }

            return work;
        }
    }

    private WriterWork TakeActive(WriterWork work)
    {
        work = work with
        {
            Batch = _active,
            Length = _activeLength,
            Records = _activeRecords,
            End = _appendedPosition,
            LastSequence = _lastSequence,
        };
        _active = TakeSpareBuffer();
        _activeLength = 0;
        _activeRecords = 0;
        if (_appendersWaitingForRoom > 0)
        {
            Monitor.PulseAll(_lock);
        }

        _waiters.BeginBatch(work.End);
        return work;
    }

    /// <summary>Asks the writer to seal the current segment (compaction); completes when it has.</summary>
    public Task<SealResult> RequestSeal(CancellationToken cancellationToken)
    {
        var request = new SealRequest();
        lock (_lock)
        {
            if (_closing)
            {
                ThrowClosed();
            }

            _sealRequest = request;
            Monitor.PulseAll(_lock);
        }

        return request.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops appends; with <paramref name="abandon"/> (a simulated kill -9) what is buffered is dropped too.</summary>
    public void Close(bool abandon)
    {
        lock (_lock)
        {
            _closing = true;
            if (abandon)
            {
                _abandoned = true;
                _activeLength = 0;
                _activeRecords = 0;
            }

            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// The writer waits <paramref name="interval"/> before retrying a failed write, unless closing. False when it should
    /// give up: abandoned, or closing and this was already the second attempt.
    /// </summary>
    public bool WaitToRetry(TimeSpan interval, ref int attemptsWhileClosing)
    {
        lock (_lock)
        {
            if (_abandoned || (_closing && ++attemptsWhileClosing > 1))
            {
                return false;
            }

            if (!_closing)
            {
                Monitor.Wait(_lock, interval);
            }

            return !_abandoned;
        }
    }

    /// <summary>A seal nobody will serve (the writer stopped).</summary>
    public SealRequest? TakeUnservedSeal()
    {
        lock (_lock)
        {
            var seal = _sealRequest;
            _sealRequest = null;
            return seal;
        }
    }

    /// <summary>A written batch's buffer, kept for reuse within a byte bound.</summary>
    public void ReturnBuffer(byte[] buffer)
    {
        if (buffer.Length > MaxPooledBufferSize)
        {
            return;
        }

        lock (_lock)
        {
            // Spares are bounded in bytes (batches grow buffers up to the backpressure bound); the rest go to the GC.
            if (_spareBytes + buffer.Length <= MaxSpareBytes)
            {
                _spareBuffers.Push(buffer);
                _spareBytes += buffer.Length;
            }
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

    private long Commit(int length, bool wakeWriter)
    {
        bool wasEmpty = _activeLength == 0;
        _activeLength += length;
        _activeRecords++;
        Volatile.Write(ref _appendedPosition, _appendedPosition + length);
        if (wasEmpty && _writerIdle && wakeWriter)
        {
            // Once per batch, not per append: only the first record into an empty buffer wakes the writer.
            Monitor.PulseAll(_lock);
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
            Monitor.PulseAll(_lock);
            Monitor.Wait(_lock);
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

    private static void ThrowClosed() => throw new ObjectDisposedException(nameof(AppendLog));
}

/// <summary>What the writer took from the append buffer in one turn.</summary>
internal readonly record struct WriterWork
{
    public byte[]? Batch { get; init; }
    public int Length { get; init; }
    public int Records { get; init; }

    /// <summary>The logical position after the batch's last record.</summary>
    public long End { get; init; }
    public ulong LastSequence { get; init; }
    public SealRequest? Seal { get; init; }
    public bool Closing { get; init; }
    public bool Abandoned { get; init; }
}

/// <summary>Compaction's request that the writer seal the current segment; completed by the writer's rotation.</summary>
internal sealed class SealRequest
{
    private readonly TaskCompletionSource<SealResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<SealResult> Task => _completion.Task;

    /// <summary>Set when the writer takes the request: the highest cas appended so far.</summary>
    public ulong HighestCas { get; set; }

    public void Complete(SealResult result) => _completion.TrySetResult(result);

    public void Fail(Exception error) => _completion.TrySetException(error);
}

/// <summary>The sealed segment, the last sequence in it, and the highest CAS at the seal.</summary>
internal readonly record struct SealResult(ulong SealedId, ulong LastSequence, ulong HighestCas);
