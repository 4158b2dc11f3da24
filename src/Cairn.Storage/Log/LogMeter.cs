using System.Diagnostics.Metrics;

namespace Cairn.Storage.Log;

/// <summary>
/// The log's distributions, which counters cannot show: fsync latency, records per group commit, compaction time.
/// The meter shares the server's name ("Cairn") so one exporter publishes both; recording costs a few nanoseconds
/// with no listener and happens once per batch, never per request.
/// </summary>
internal sealed class LogMeter : IDisposable
{
    public const string Name = "Cairn";

    private readonly Meter _meter = new(Name, typeof(LogMeter).Assembly.GetName().Version?.ToString(3));
    private readonly Histogram<double> _fsyncSeconds;
    private readonly Histogram<long> _recordsPerCommit;
    private readonly Histogram<double> _compactionSeconds;

    public LogMeter()
    {
        _fsyncSeconds = _meter.CreateHistogram("cairn.log.fsync.duration", "s", "How long each fsync of the log took.", advice: new InstrumentAdvice<double>
        {
            // From a page-cache-only device (tens of microseconds) to a struggling disk (seconds).
            HistogramBucketBoundaries = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        });
        _recordsPerCommit = _meter.CreateHistogram("cairn.log.group_commit.records", "{record}", "Records written by one group commit.", advice: new InstrumentAdvice<long>
        {
            HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
        });
        _compactionSeconds = _meter.CreateHistogram("cairn.log.compaction.duration", "s", "How long each compaction took.", advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
        });
    }

    public void Fsynced(TimeSpan took) => _fsyncSeconds.Record(took.TotalSeconds);

    public void Committed(long records) => _recordsPerCommit.Record(records);

    public void Compacted(TimeSpan took) => _compactionSeconds.Record(took.TotalSeconds);

    public void Dispose() => _meter.Dispose();
}
