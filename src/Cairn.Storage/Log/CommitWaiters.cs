namespace Cairn.Storage.Log;

/// <summary>
/// Who waits for which log position, under one lock of its own. Positions are named as FASTER names its log's: an
/// append returns its end position; the writer takes a batch in flight (<see cref="BeginBatch"/>) and, once the batch is
/// written (and fsynced where the policy says so), publishes it (<see cref="Publish"/>), which completes the batch's
/// waiters. A failed write faults every waiter until a retry succeeds. Waiters share one completion per batch, so a
/// group commit wakes its hundreds of writers with one signal.
/// Lock order: the writer calls <see cref="BeginBatch"/> inside the append lock, never the other way round.
/// </summary>
internal sealed class CommitWaiters
{
    private readonly object _gate = new();
    private long _durablePosition;
    private long _inFlightEnd;
    private TaskCompletionSource? _inFlightWaiters;
    private TaskCompletionSource? _nextWaiters;
    private LogWriteException? _failure;
    private bool _writerStopped;

    /// <summary>Everything before this position is published (written, and fsynced under <see cref="FsyncPolicy.Always"/>).</summary>
    public long DurablePosition => Volatile.Read(ref _durablePosition);

    /// <summary>Why writes are failing now; null while they succeed.</summary>
    public LogWriteException? Failure => Volatile.Read(ref _failure);

    /// <summary>Completes once <paramref name="position"/> is published; faults while writes fail or once the writer is gone.</summary>
    public ValueTask WaitAsync(long position, CancellationToken cancellationToken)
    {
        if (position <= Volatile.Read(ref _durablePosition))
        {
            return ValueTask.CompletedTask;
        }

        Task task;
        lock (_gate)
        {
            if (position <= _durablePosition)
            {
                return ValueTask.CompletedTask;
            }

            if (_failure is not null)
            {
                return ValueTask.FromException(_failure);
            }

            if (_writerStopped)
            {
                return ValueTask.FromException(Closed());
            }

            // A position the batch in flight covers completes with it; a later one with the next batch.
            ref var waiters = ref position <= _inFlightEnd ? ref _inFlightWaiters : ref _nextWaiters;
            task = (waiters ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }

        return new ValueTask(cancellationToken.CanBeCanceled ? task.WaitAsync(cancellationToken) : task);
    }

    /// <summary>The writer took everything appended up to <paramref name="batchEnd"/>: those waiting for it now wait for this batch.</summary>
    public void BeginBatch(long batchEnd)
    {
        lock (_gate)
        {
            _inFlightEnd = batchEnd;
            _inFlightWaiters = _nextWaiters;
            _nextWaiters = null;
        }
    }

    /// <summary>The batch in flight is published up to <paramref name="end"/>; true when this ends a run of failures.</summary>
    public bool Publish(long end)
    {
        TaskCompletionSource? done;
        bool recovered;
        lock (_gate)
        {
            Volatile.Write(ref _durablePosition, end);
            done = _inFlightWaiters;
            _inFlightWaiters = null;
            recovered = _failure is not null;
            _failure = null;
        }

        done?.TrySetResult();
        return recovered;
    }

    /// <summary>A write succeeded with nothing to publish (a new segment): true when this ends a run of failures.</summary>
    public bool ClearFailure()
    {
        if (Volatile.Read(ref _failure) is null)
        {
            return false;
        }

        lock (_gate)
        {
            _failure = null;
        }

        return true;
    }

    /// <summary>A write or fsync failed: every waiter is faulted, and later ones are until a retry succeeds.</summary>
    public void Fail(LogWriteException failure)
    {
        (TaskCompletionSource? InFlight, TaskCompletionSource? Next) waiting;
        lock (_gate)
        {
            _failure = failure;
            waiting = TakeWaiters();
        }

        Fault(waiting, failure);
    }

    /// <summary>The writer is gone: whoever still waits for a position it did not publish is told so.</summary>
    public void WriterStopped()
    {
        (TaskCompletionSource? InFlight, TaskCompletionSource? Next) waiting;
        Exception reason;
        lock (_gate)
        {
            _writerStopped = true;
            waiting = TakeWaiters();
            reason = (Exception?)_failure ?? Closed();
        }

        Fault(waiting, reason);
    }

    /// <summary>Everyone waiting now, on the batch in flight or the next one; called with the lock held.</summary>
    private (TaskCompletionSource? InFlight, TaskCompletionSource? Next) TakeWaiters()
    {
        var waiting = (_inFlightWaiters, _nextWaiters);
        _inFlightWaiters = null;
        _nextWaiters = null;
        return waiting;
    }

    private static void Fault((TaskCompletionSource? InFlight, TaskCompletionSource? Next) waiting, Exception reason)
    {
        waiting.InFlight?.TrySetException(reason);
        waiting.Next?.TrySetException(reason);
    }

    private static ObjectDisposedException Closed() => new(nameof(AppendLog), "the log was closed before this position was written");
}
