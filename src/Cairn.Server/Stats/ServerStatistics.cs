namespace Cairn.Server.Stats;

/// <summary>Server-wide numbers behind "stats": counters merged from connections plus connection gauges.</summary>
public sealed class ServerStatistics
{
    private long _currentConnections;
    private long _totalConnections;
    private long _rejectedConnections;
    private long _idleKicks;

    public ServerStatistics(TimeProvider time)
    {
        StartedAt = time.GetUtcNow();
    }

    public DateTimeOffset StartedAt { get; }

    public CounterSet Totals { get; } = new();

    public long CurrentConnections => Volatile.Read(ref _currentConnections);

    public long TotalConnections => Volatile.Read(ref _totalConnections);

    public long RejectedConnections => Volatile.Read(ref _rejectedConnections);

    /// <summary>Counts a new connection unless that would pass <paramref name="limit"/> (memcached's -c).</summary>
    public bool TryOpenConnection(int limit)
    {
        if (Interlocked.Increment(ref _currentConnections) > limit)
        {
            Interlocked.Decrement(ref _currentConnections);
            Interlocked.Increment(ref _rejectedConnections);
            return false;
        }

        Interlocked.Increment(ref _totalConnections);
        return true;
    }

    public void ConnectionClosed() => Interlocked.Decrement(ref _currentConnections);

    /// <summary>Connections closed for idling past -o idle_timeout (memcached's idle_kicks).</summary>
    public long IdleKicks => Volatile.Read(ref _idleKicks);

    public void CountIdleKick() => Interlocked.Increment(ref _idleKicks);

    /// <summary>stats reset: cumulative counters restart; gauges (current connections) do not.</summary>
    public void Reset()
    {
        Totals.Clear();
        Interlocked.Exchange(ref _totalConnections, 0);
        Interlocked.Exchange(ref _rejectedConnections, 0);
        Interlocked.Exchange(ref _idleKicks, 0);
    }
}
