namespace Cairn.Cli.Bench;

/// <summary>
/// Log-linear latency buckets (about 1% wide) from 1 microsecond to minutes: fixed memory, no per-sample
/// allocation, mergeable across connections, percentiles within a bucket's width.
/// </summary>
internal sealed class LatencyHistogram
{
    private const double Growth = 1.01;
    private static readonly double LogGrowth = Math.Log(Growth);
    private readonly long[] _counts = new long[2400];

    public long Count { get; private set; }

    public double MaxMicroseconds { get; private set; }

    public void Record(double microseconds)
    {
        var index = microseconds <= 1 ? 0 : Math.Min(_counts.Length - 1, (int)(Math.Log(microseconds) / LogGrowth));
        _counts[index]++;
        Count++;
        MaxMicroseconds = Math.Max(MaxMicroseconds, microseconds);
    }

    public void Merge(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        MaxMicroseconds = Math.Max(MaxMicroseconds, other.MaxMicroseconds);
    }

    /// <summary>The upper edge of the bucket holding the given percentile, in microseconds.</summary>
    public double Percentile(double percentile)
    {
        if (Count == 0)
        {
            return 0;
        }

        var target = (long)Math.Ceiling(Count * percentile / 100.0);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= target)
            {
                return Math.Min(Math.Pow(Growth, i + 1), MaxMicroseconds);
            }
        }

        return MaxMicroseconds;
    }
}
