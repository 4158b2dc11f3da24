namespace Cairn.Storage.Log;

/// <summary>
/// Wakes whoever waits for the writer to write something new (a replication stream), without costing the writer anything
/// while nobody waits: one shared completion, replaced each time it fires.
/// </summary>
internal sealed class WrittenSignal
{
    private TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _awaited;

    /// <summary>
    /// Completes once the writer has written a record after <paramref name="sequence"/> (at once if it already has), so a
    /// replication stream sleeps until there is something to ship instead of polling.
    /// </summary>
    public Task WhenWrittenAfter(ulong sequence, Func<ulong> lastWritten)
    {
        var written = Volatile.Read(ref _written);
        Interlocked.Exchange(ref _awaited, 1);
        return lastWritten() > sequence ? Task.CompletedTask : written.Task;
    }

    /// <summary>Called by the writer after publishing a new last written sequence.</summary>
    public void Signal()
    {
        // The exchange is a full fence after the sequence was published: a waiter either sees the new sequence or
        // its flag is seen here, so none sleeps through a write.
        if (Interlocked.Exchange(ref _awaited, 0) == 0)
        {
            return;
        }

        var done = Interlocked.Exchange(ref _written, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        done.TrySetResult();
    }
}
