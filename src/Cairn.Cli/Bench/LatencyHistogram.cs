using HdrHistogram;

namespace Cairn.Cli.Bench;

/// <summary>
/// Latencies in microseconds, one per connection and merged at the end: HdrHistogram (3 significant digits, up to
/// an hour), so percentiles are exact to 0.1 % with fixed memory and no allocation per sample.
/// </summary>
internal sealed class LatencyHistogram
{
    private const long HighestMicroseconds = 3_600_000_000;
    private readonly LongHistogram _histogram = new(HighestMicroseconds, 3);

    public long Count => _histogram.TotalCount;

    public double MaxMicroseconds => Count == 0 ? 0 : _histogram.GetMaxValue();

    public void Record(double microseconds) =>
        _histogram.RecordValue(Math.Clamp((long)Math.Ceiling(microseconds), 1, HighestMicroseconds));

    public void Merge(LatencyHistogram other) => _histogram.Add(other._histogram);

    /// <summary>The latency at or below which <paramref name="percentile"/> % of samples fall, in microseconds.</summary>
    public double Percentile(double percentile) => Count == 0 ? 0 : _histogram.GetValueAtPercentile(percentile);
}
