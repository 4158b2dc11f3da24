namespace Cairn.Replication;

/// <summary>
/// Where a primary waits for its replicas: each connected replica reports the last primary sequence it holds durably,
/// and a batch of writes waits here until enough of the replicas that count have reached its last sequence. One wait
/// per batch (the connection loop's barrier), and an acknowledgement wakes every batch it satisfies at once.
/// </summary>
public sealed class ReplicaAcknowledgements
{
    private readonly object _lock = new();
    private readonly List<Waiter> _waiters = [];
    private readonly Func<IEnumerable<ConnectedReplica>> _replicas;
    private int _waiterCount;

    internal ReplicaAcknowledgements(Func<IEnumerable<ConnectedReplica>> replicas)
    {
        _replicas = replicas;
    }

    /// <summary>
    /// True once <paramref name="count"/> counting replicas hold <paramref name="sequence"/>; false when
    /// <paramref name="timeout"/> passes first (the caller must then not acknowledge the batch).
    /// </summary>
    public async ValueTask<bool> WaitAsync(ulong sequence, int count, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken = default)
    {
        if (count <= 0 || Holding(sequence) >= count)
        {
            return true;
        }

        var waiter = new Waiter(sequence, count);
        lock (_lock)
        {
            _waiters.Add(waiter);
            _waiterCount = _waiters.Count;
        }

        // An acknowledgement may have arrived between the first look and the registration.
        if (Holding(sequence) >= count)
        {
            waiter.Done.TrySetResult(true);
        }

        try
        {
            return await waiter.Done.Task.WaitAsync(timeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            return false;
        }
        finally
        {
            lock (_lock)
            {
                _waiters.Remove(waiter);
                _waiterCount = _waiters.Count;
            }
        }
    }

    /// <summary>How many counting replicas hold <paramref name="sequence"/> durably.</summary>
    public int Holding(ulong sequence)
    {
        int holding = 0;
        foreach (var replica in _replicas())
        {
            if (replica.Counts && replica.HasAcknowledged && replica.AcknowledgedSequence >= sequence)
            {
                holding++;
            }
        }

        return holding;
    }

    /// <summary>A replica's position moved (or which replicas count changed): wake every batch now satisfied.</summary>
    internal void Changed()
    {
        if (Volatile.Read(ref _waiterCount) == 0)
        {
            return;
        }

        lock (_lock)
        {
            foreach (var waiter in _waiters)
            {
                if (!waiter.Done.Task.IsCompleted && Holding(waiter.Sequence) >= waiter.Count)
                {
                    waiter.Done.TrySetResult(true);
                }
            }
        }
    }

    private sealed class Waiter(ulong sequence, int count)
    {
        public ulong Sequence { get; } = sequence;

        public int Count { get; } = count;

        public TaskCompletionSource<bool> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
