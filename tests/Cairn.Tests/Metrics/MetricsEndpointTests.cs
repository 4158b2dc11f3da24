using System.Globalization;
using System.Text.RegularExpressions;
using Cairn.Tests.Support;

namespace Cairn.Tests.Metrics;

/// <summary>`--metrics-port`: /metrics scraped with a real HTTP client and read as Prometheus text format.</summary>
public sealed partial class MetricsEndpointTests
{
    [Fact]
    public async Task Metrics_are_served_in_prometheus_text_format_and_follow_the_commands()
    {
        var metricsPort = EtcdProcess.FreePort();
        await using var server = await TestServer.StartAsync(options =>
        {
            options.MetricsPort = metricsPort;
            options.Fsync = Cairn.Storage.Log.FsyncPolicy.Always;
        });
        Assert.Equal(metricsPort, server.Server.MetricsEndPoint?.Port);
        Assert.DoesNotContain(server.Server.EndPoints, e => e.Port == metricsPort);

        using (var client = await server.ConnectAsync())
        {
            await client.RoundTripAsync("set a 0 0 1\r\nx\r\n", "STORED\r\n");
            await client.RoundTripAsync("get a\r\n", "VALUE a 0 1\r\nx\r\nEND\r\n");
            await client.RoundTripAsync("get b\r\n", "END\r\n");
            await client.RoundTripAsync("get c\r\n", "END\r\n");
            await client.RoundTripAsync("compact\r\n", "OK\r\n");
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync($"http://127.0.0.1:{metricsPort}/metrics");
        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var (types, samples) = Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal("counter", types["cairn_commands_total"]);
        Assert.Equal("counter", types["cairn_lookups_total"]);
        Assert.Equal("counter", types["cairn_network_read_bytes_total"]);
        Assert.Equal("gauge", types["cairn_items_current"]);
        Assert.Equal("gauge", types["cairn_log_size_bytes"]);
        Assert.Equal("gauge", types["cairn_recovery_duration_seconds"]);
        Assert.Equal(3, samples[("cairn_commands_total", "command=\"get\"")]);
        Assert.Equal(1, samples[("cairn_commands_total", "command=\"set\"")]);
        Assert.Equal(1, samples[("cairn_lookups_total", "command=\"get\",result=\"hit\"")]);
        Assert.Equal(2, samples[("cairn_lookups_total", "command=\"get\",result=\"miss\"")]);
        Assert.Equal(1.0 / 3, samples[("cairn_get_hit_ratio", "")], 6);
        Assert.Equal(1, samples[("cairn_items_current", "")]);
        Assert.True(samples[("cairn_log_records_total", "")] >= 1);
        Assert.True(samples[("cairn_network_read_bytes_total", "")] > 0);

        // The log's histograms: the set above was written by a group commit and fsynced (--fsync always).
        Assert.Equal("histogram", types["cairn_log_fsync_duration_seconds"]);
        Assert.Equal("histogram", types["cairn_log_group_commit_records"]);
        Assert.True(samples[("cairn_log_fsync_duration_seconds_count", "")] >= 1);
        Assert.True(samples[("cairn_log_group_commit_records_count", "")] >= 1);
        Assert.True(samples[("cairn_log_group_commit_records_bucket", "le=\"+Inf\"")] >= 1);
        Assert.True(samples[("cairn_log_compaction_duration_seconds_count", "")] >= 1);
        Assert.Equal(1, samples[("cairn_log_compactions_total", "")]);

        // Every series the shipped Grafana dashboard queries is one the server serves (the replica-only lag aside).
        var dashboard = await File.ReadAllTextAsync(Path.Combine(ExternalTool.RepositoryRoot, "deploy", "grafana-dashboard.json"));
        var queried = MetricName().Matches(dashboard).Select(m => HistogramSeries().Replace(m.Value, "")).Distinct().ToList();
        Assert.NotEmpty(queried);
        Assert.All(queried.Where(name => name != "cairn_replication_lag"), name => Assert.Contains(name, types.Keys));
    }

    [Fact]
    public async Task Without_the_flag_nothing_listens_for_metrics()
    {
        await using var server = await TestServer.StartAsync();
        Assert.Null(server.Server.MetricsEndPoint);
        Assert.Single(server.Server.EndPoints);
    }

    /// <summary>The text format's TYPE lines, and each sample keyed by name and its labels minus OpenTelemetry's scope labels.</summary>
    private static (Dictionary<string, string> Types, Dictionary<(string, string), double> Samples) Parse(string text)
    {
        var types = new Dictionary<string, string>();
        var samples = new Dictionary<(string, string), double>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ');
                types[parts[2]] = parts[3];
                continue;
            }

            if (line.StartsWith('#'))
            {
                continue;
            }

            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = string.Join(',', match.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => !l.StartsWith("otel_scope_", StringComparison.Ordinal)));
            samples[(match.Groups["name"].Value, labels)] = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
        }

        return (types, samples);
    }

    [GeneratedRegex(@"cairn_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"_(bucket|sum|count)$")]
    private static partial Regex HistogramSeries();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>[-+0-9.eE]+|NaN|[+-]Inf)( [0-9]+)?$")]
    private static partial Regex SampleLine();
}
