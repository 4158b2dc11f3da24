namespace Cairn.Server.Stats;

/// <summary>Cumulative per-command counters, named as memcached's "stats" names them.</summary>
public enum Counter
{
    CmdGet,
    CmdSet,
    CmdFlush,
    CmdTouch,
    GetHits,
    GetMisses,
    DeleteMisses,
    DeleteHits,
    IncrMisses,
    IncrHits,
    DecrMisses,
    DecrHits,
    CasMisses,
    CasHits,
    CasBadval,
    TouchHits,
    TouchMisses,
    StoreTooLarge,
    AuthCmds,
    AuthErrors,
    BytesRead,
    BytesWritten,
}

/// <summary>
/// A connection's private tally, merged into the server totals once per batch so the hot path never
/// touches a shared cache line.
/// </summary>
public sealed class CounterSet
{
    public const int Count = (int)Counter.BytesWritten + 1;

    private readonly long[] _values = new long[Count];

    public void Increment(Counter counter) => _values[(int)counter]++;

    public void Add(Counter counter, long amount) => _values[(int)counter] += amount;

    public long this[Counter counter] => Volatile.Read(ref _values[(int)counter]);

    /// <summary>Moves this tally into <paramref name="totals"/> and zeroes it.</summary>
    public void DrainInto(CounterSet totals)
    {
        for (var i = 0; i < Count; i++)
        {
            var value = _values[i];
            if (value != 0)
            {
                Interlocked.Add(ref totals._values[i], value);
                _values[i] = 0;
            }
        }
    }

    public void Clear()
    {
        for (var i = 0; i < Count; i++)
        {
            Interlocked.Exchange(ref _values[i], 0);
        }
    }
}
