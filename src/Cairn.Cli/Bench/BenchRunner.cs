using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Bench;

/// <summary>Opens every connection, runs them together, prints progress and then the summary.</summary>
internal sealed class BenchRunner(BenchOptions options, TextWriter output, TextWriter error)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    public async Task<int> RunAsync()
    {
        using var connectTimeout = new CancellationTokenSource(ConnectTimeout);
        var endPoint = await options.Server.ResolveAsync(connectTimeout.Token);
        var keys = new KeyChooser(options.Keys, options.KeyPattern);
        var totals = new BenchTotals();
        var workers = Enumerable.Range(0, options.Connections).Select(i => new BenchWorker(options, keys, totals, i)).ToArray();
        try
        {
            try
            {
                await Task.WhenAll(workers.Select(worker => worker.ConnectAsync(endPoint, connectTimeout.Token)));
            }
            catch (Exception failure) when (failure is SocketException or OperationCanceledException)
            {
                var reason = failure is OperationCanceledException ? "timed out" : failure.Message;
                throw new ServerUnreachableException($"cannot connect to {options.Server}: {reason}", failure);
            }

            if (!options.Json)
            {
                // Say what is being measured before it starts, so a long or stuck run is not a mystery.
                await output.WriteLineAsync(Description());
                await output.FlushAsync();
            }

            // A run by duration stops sending at the deadline; the abort only guards against a server that stops answering.
            using var abort = new CancellationTokenSource();
            var started = Stopwatch.GetTimestamp();
            var deadline = 0L;
            if (options.DurationSeconds > 0)
            {
                deadline = started + (long)(options.DurationSeconds * Stopwatch.Frequency);
                abort.CancelAfter(TimeSpan.FromSeconds(options.DurationSeconds + 30));
            }

            var run = Task.WhenAll(workers.Select(worker => Task.Run(() => worker.RunAsync(endPoint, deadline, abort.Token))));
            if (options.Progress || (ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected))
            {
                await ShowProgressAsync(run, totals, started);
            }

            await run;
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var latency = new LatencyHistogram();
            foreach (var worker in workers)
            {
                latency.Merge(worker.Latency);
            }

            var reasons = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var (reason, count) in workers.SelectMany(w => w.ErrorReasons))
            {
                reasons[reason] = reasons.GetValueOrDefault(reason) + count;
            }

            var summary = new Summary(
                Operations: totals.Operations,
                Seconds: seconds,
                Errors: workers.Sum(w => w.Errors),
                Sets: workers.Sum(w => w.Sets),
                Gets: workers.Sum(w => w.Gets),
                Hits: workers.Sum(w => w.Hits),
                Misses: workers.Sum(w => w.Misses),
                FailedGets: workers.Sum(w => w.FailedGets),
                Reasons: reasons,
                Latency: latency);
            await output.WriteLineAsync(options.Json ? Json(summary) : Text(summary));
            return summary.Errors == 0 ? ExitCodes.Success : ExitCodes.NotFound;
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    private Task ShowProgressAsync(Task run, BenchTotals totals, long started)
    {
        var byTime = options.DurationSeconds > 0;
        var lastOperations = 0L;
        var lastTime = started;
        return ProgressDisplay.RunAsync(
            error,
            run,
            byTime ? options.DurationSeconds : (double)options.RequestsPerConnection * options.Connections,
            () =>
            {
                var now = Stopwatch.GetTimestamp();
                var operations = totals.Operations;
                var rate = (operations - lastOperations) / Stopwatch.GetElapsedTime(lastTime, now).TotalSeconds;
                lastOperations = operations;
                lastTime = now;
                var elapsed = Stopwatch.GetElapsedTime(started, now).TotalSeconds;
                return (byTime ? elapsed : operations, string.Create(CultureInfo.InvariantCulture,
                    $"{elapsed,6:F1} s  {operations,12:N0} ops  {rate,10:N0} ops/s  {totals.Errors:N0} errors"));
            },
            ProgressInterval);
    }

    private string Description()
    {
        var shape = options.Connections == options.Threads * options.Clients
            ? $"{options.Connections} connections ({options.Threads} threads x {options.Clients} clients)"
            : $"{options.Connections} connections";
        var amount = options.DurationSeconds > 0
            ? $"for {options.DurationSeconds} s"
            : $"{options.RequestsPerConnection} requests each";
        return string.Create(CultureInfo.InvariantCulture,
            $"cairn bench: {options.Server}, {shape}, {amount}, {options.Protocol.ToString().ToLowerInvariant()} protocol, set:get {options.SetWeight}:{options.GetWeight}, {options.ValueSize}-byte values, {options.Keys} keys ({options.KeyPattern.ToString().ToLowerInvariant()}), pipeline {options.Pipeline}{(options.RatePerSecond is { } rate ? $", open loop at {rate} requests/s (latency from when each was due)" : "")}");
    }

    private static string Text(Summary s)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"  ops         {s.Operations} ({s.Sets} sets, {s.Gets} gets: {s.Hits} hits, {s.Misses} misses, {s.FailedGets} failed)");
        text.AppendLine(CultureInfo.InvariantCulture, $"  time        {s.Seconds:F3} s");
        text.AppendLine(CultureInfo.InvariantCulture, $"  ops/s       {s.OperationsPerSecond:F0}");
        text.AppendLine(CultureInfo.InvariantCulture, $"  errors      {s.Errors}");
        foreach (var (reason, count) in s.Reasons.OrderByDescending(pair => pair.Value))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"    {count,10}  {reason}");
        }

        text.Append(CultureInfo.InvariantCulture,
            $"  latency us  p50 {s.Latency.Percentile(50):F0}  p90 {s.Latency.Percentile(90):F0}  p99 {s.Latency.Percentile(99):F0}  p99.9 {s.Latency.Percentile(99.9):F0}  max {s.Latency.MaxMicroseconds:F0}");
        return text.ToString();
    }

    private string Json(Summary s)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("server", options.Server.ToString());
            json.WriteNumber("connections", options.Connections);
            json.WriteString("protocol", options.Protocol.ToString().ToLowerInvariant());
            json.WriteNumber("pipeline", options.Pipeline);
            if (options.RatePerSecond is { } rate)
            {
                // Latencies are then counted from each request's due time: corrected for coordinated omission.
                json.WriteNumber("target_rate", rate);
            }

            json.WriteNumber("ops", s.Operations);
            json.WriteNumber("sets", s.Sets);
            json.WriteNumber("gets", s.Gets);
            json.WriteNumber("hits", s.Hits);
            json.WriteNumber("misses", s.Misses);
            json.WriteNumber("failed_gets", s.FailedGets);
            json.WriteNumber("errors", s.Errors);
            json.WriteStartObject("error_reasons");
            foreach (var (reason, count) in s.Reasons)
            {
                json.WriteNumber(reason, count);
            }

            json.WriteEndObject();
            json.WriteNumber("seconds", Math.Round(s.Seconds, 3));
            json.WriteNumber("ops_per_second", Math.Round(s.OperationsPerSecond));
            json.WriteNumber("p50_us", Math.Round(s.Latency.Percentile(50), 1));
            json.WriteNumber("p90_us", Math.Round(s.Latency.Percentile(90), 1));
            json.WriteNumber("p99_us", Math.Round(s.Latency.Percentile(99), 1));
            json.WriteNumber("p999_us", Math.Round(s.Latency.Percentile(99.9), 1));
            json.WriteNumber("max_us", Math.Round(s.Latency.MaxMicroseconds, 1));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private sealed record Summary(long Operations, double Seconds, long Errors, long Sets, long Gets, long Hits, long Misses, long FailedGets, Dictionary<string, long> Reasons, LatencyHistogram Latency)
    {
        public double OperationsPerSecond => Seconds > 0 ? Operations / Seconds : 0;
    }
}
