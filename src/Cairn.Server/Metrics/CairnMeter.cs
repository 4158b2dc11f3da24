using System.Diagnostics.Metrics;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;

namespace Cairn.Server.Metrics;

/// <summary>
/// The server's .NET <see cref="Meter"/>: every instrument is observed at scrape time from the same counters
/// `stats` reports, so the two never disagree and the request path pays nothing for metrics. Units are UCUM (By,
/// s, 1), which the Prometheus exporter turns into the _bytes, _seconds and _ratio suffixes.
/// </summary>
public sealed class CairnMeter : IDisposable
{
    public const string Name = "Cairn";

    public CairnMeter(ServerContext context)
    {
        Meter = new Meter(Name, ServerContext.CairnVersion);
        var statistics = context.Statistics;
        var totals = statistics.Totals;
        var store = context.Store;

        Meter.CreateObservableCounter("cairn.commands", () => new[]
        {
            Tagged(totals[Counter.CmdGet], "command", "get"),
            Tagged(totals[Counter.CmdSet], "command", "set"),
            Tagged(totals[Counter.CmdTouch], "command", "touch"),
            Tagged(totals[Counter.CmdFlush], "command", "flush"),
        }, description: "Commands by kind, as stats cmd_get, cmd_set, cmd_touch and cmd_flush count them.");
        Meter.CreateObservableCounter("cairn.lookups", () => new[]
        {
            Tagged(totals[Counter.GetHits], "command", "get", "result", "hit"),
            Tagged(totals[Counter.GetMisses], "command", "get", "result", "miss"),
            Tagged(totals[Counter.DeleteHits], "command", "delete", "result", "hit"),
            Tagged(totals[Counter.DeleteMisses], "command", "delete", "result", "miss"),
            Tagged(totals[Counter.IncrHits], "command", "incr", "result", "hit"),
            Tagged(totals[Counter.IncrMisses], "command", "incr", "result", "miss"),
            Tagged(totals[Counter.DecrHits], "command", "decr", "result", "hit"),
            Tagged(totals[Counter.DecrMisses], "command", "decr", "result", "miss"),
            Tagged(totals[Counter.CasHits], "command", "cas", "result", "hit"),
            Tagged(totals[Counter.CasMisses], "command", "cas", "result", "miss"),
            Tagged(totals[Counter.CasBadval], "command", "cas", "result", "badval"),
            Tagged(totals[Counter.TouchHits], "command", "touch", "result", "hit"),
            Tagged(totals[Counter.TouchMisses], "command", "touch", "result", "miss"),
        }, description: "Commands that look a key up, by whether they found it.");
        Meter.CreateObservableGauge("cairn.get.hit_ratio", () =>
        {
            double hits = totals[Counter.GetHits], misses = totals[Counter.GetMisses];
            return hits + misses == 0 ? 0 : hits / (hits + misses);
        }, "1", "Gets that found their key, of all gets since start (use rate() of cairn_lookups_total for a window).");
        Meter.CreateObservableCounter("cairn.network.read", () => totals[Counter.BytesRead], "By", "Bytes read from clients.");
        Meter.CreateObservableCounter("cairn.network.written", () => totals[Counter.BytesWritten], "By", "Bytes written to clients.");
        Meter.CreateObservableUpDownCounter("cairn.connections.current", () => statistics.CurrentConnections, description: "Open client connections.");
        Meter.CreateObservableCounter("cairn.connections.accepted", () => statistics.TotalConnections, description: "Client connections accepted since start.");
        Meter.CreateObservableCounter("cairn.connections.rejected", () => statistics.RejectedConnections, description: "Connections refused at -c.");
        Meter.CreateObservableUpDownCounter("cairn.items.current", () => store.GetStatistics().CurrentItems, description: "Items held.");
        Meter.CreateObservableUpDownCounter("cairn.items.memory", () => store.GetStatistics().Bytes, "By", "Bytes of items in memory.");
        Meter.CreateObservableUpDownCounter("cairn.memory.limit", () => store.GetStatistics().MemoryLimit, "By", "Item memory limit (-m).");
        Meter.CreateObservableCounter("cairn.evictions", () => store.GetStatistics().Evictions, description: "Items evicted to make room (--evict only).");
        Meter.CreateObservableCounter("cairn.store.out_of_memory", () => store.GetStatistics().OutOfMemoryErrors, description: "Writes refused for lack of item memory.");

        if (context.Durability is { } durability)
        {
            var log = durability.Log;
            Meter.CreateObservableUpDownCounter("cairn.log.size", () => log.GetStatistics().LogBytes, "By", "Bytes of log segments on disk.");
            Meter.CreateObservableCounter("cairn.log.records", () => log.GetStatistics().RecordsWritten, description: "Records appended to the log.");
            Meter.CreateObservableCounter("cairn.log.fsyncs", () => log.GetStatistics().Fsyncs, description: "fsync calls on the log.");
            Meter.CreateObservableCounter("cairn.log.group_commits", () => log.GetStatistics().GroupCommits, description: "Group commits (one write of many records).");
            Meter.CreateObservableCounter("cairn.log.write_errors", () => log.GetStatistics().WriteErrors, description: "Log writes that failed.");
            Meter.CreateObservableCounter("cairn.log.compactions", () => log.GetStatistics().Compactions, description: "Compactions run.");
            Meter.CreateObservableGauge("cairn.log.last_compaction.duration", () => log.GetStatistics().LastCompactionDuration.TotalSeconds, "s", "How long the last compaction took.");
            Meter.CreateObservableGauge("cairn.recovery.duration", () => durability.Recovery.Duration.TotalSeconds, "s", "How long start-up replay of the log took.");
        }

        Meter.CreateObservableGauge("cairn.replication.lag", () =>
            context.Replication?.State.Link is { } link ? new[] { new Measurement<long>((long)link.LagRecords) } : [],
            "{record}", "Records a replica is behind its primary (reported by replicas only).");
    }

    public Meter Meter { get; }

    public void Dispose() => Meter.Dispose();

    private static Measurement<long> Tagged(long value, string key, string tag) => new(value, new KeyValuePair<string, object?>(key, tag));

    private static Measurement<long> Tagged(long value, string key1, string tag1, string key2, string tag2) =>
        new(value, new KeyValuePair<string, object?>(key1, tag1), new KeyValuePair<string, object?>(key2, tag2));
}
