using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cairn.LoadGenerator;

/// <summary>
/// A closed-loop memcached text-protocol load generator: each connection sends a request (or a pipeline of
/// them), waits for the replies, and records the latency. Prints ops/s and latency percentiles.
/// Usage: cairn-loadgen --server 127.0.0.1:9889 [--connections 50] [--duration 10] [--value-size 100]
///        [--keys 100000] [--ratio 1:0 (set:get)] [--pipeline 1] [--json]
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var options = Options.Parse(args);
        var endPoint = options.EndPoint();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(options.DurationSeconds));
        var workers = new List<Task<Worker>>();
        for (var i = 0; i < options.Connections; i++)
        {
            var worker = new Worker(options, i);
            workers.Add(Task.Run(async () =>
            {
                await worker.RunAsync(endPoint, stop.Token);
                return worker;
            }));
        }

        var started = Stopwatch.GetTimestamp();
        var done = await Task.WhenAll(workers);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var histogram = new LatencyHistogram();
        long errors = 0;
        foreach (var worker in done)
        {
            histogram.Merge(worker.Latency);
            errors += worker.Errors;
        }

        var opsPerSecond = histogram.Count / seconds;
        if (options.Json)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"ops\":{histogram.Count},\"seconds\":{seconds:F3},\"ops_per_second\":{opsPerSecond:F0},\"errors\":{errors},\"p50_us\":{histogram.Percentile(50):F1},\"p90_us\":{histogram.Percentile(90):F1},\"p99_us\":{histogram.Percentile(99):F1},\"p999_us\":{histogram.Percentile(99.9):F1},\"max_us\":{histogram.MaxMicroseconds:F1}}}"));
        }
        else
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{histogram.Count} ops in {seconds:F1} s: {opsPerSecond:F0} ops/s, {errors} errors; latency us p50 {histogram.Percentile(50):F0} p90 {histogram.Percentile(90):F0} p99 {histogram.Percentile(99):F0} p99.9 {histogram.Percentile(99.9):F0} max {histogram.MaxMicroseconds:F0}"));
        }

        return errors == 0 ? 0 : 1;
    }
}

internal sealed class Options
{
    public string Server { get; private set; } = "127.0.0.1:9889";

    public int Connections { get; private set; } = 50;

    public int DurationSeconds { get; private set; } = 10;

    public int ValueSize { get; private set; } = 100;

    public int Keys { get; private set; } = 100_000;

    public int SetWeight { get; private set; } = 1;

    public int GetWeight { get; private set; }

    public int Pipeline { get; private set; } = 1;

    public bool Json { get; private set; }

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--server": options.Server = Next(); break;
                case "--connections": options.Connections = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--duration": options.DurationSeconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--value-size": options.ValueSize = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--keys": options.Keys = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--pipeline": options.Pipeline = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--json": options.Json = true; break;
                case "--ratio":
                    var parts = Next().Split(':');
                    options.SetWeight = int.Parse(parts[0], CultureInfo.InvariantCulture);
                    options.GetWeight = int.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        return options;
    }

    public IPEndPoint EndPoint()
    {
        var colon = Server.LastIndexOf(':');
        return new IPEndPoint(IPAddress.Parse(Server[..colon].Trim('[', ']')), int.Parse(Server[(colon + 1)..], CultureInfo.InvariantCulture));
    }
}

internal sealed class Worker(Options options, int id)
{
    private readonly byte[] _receive = new byte[256 * 1024];
    private readonly Random _random = new(id);

    public LatencyHistogram Latency { get; } = new();

    public long Errors { get; private set; }

    public async Task RunAsync(IPEndPoint endPoint, CancellationToken stop)
    {
        using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, stop);
        var value = new string('v', options.ValueSize);
        var request = new StringBuilder();
        var expectedLines = new List<bool>();
        while (!stop.IsCancellationRequested)
        {
            request.Clear();
            expectedLines.Clear();
            for (var p = 0; p < options.Pipeline; p++)
            {
                var key = $"key:{_random.Next(options.Keys):D8}";
                var isSet = _random.Next(options.SetWeight + options.GetWeight) < options.SetWeight;
                request.Append(isSet ? $"set {key} 0 0 {value.Length}\r\n{value}\r\n" : $"get {key}\r\n");
                expectedLines.Add(isSet);
            }

            var bytes = Encoding.ASCII.GetBytes(request.ToString());
            var started = Stopwatch.GetTimestamp();
            try
            {
                await socket.SendAsync(bytes, SocketFlags.None, stop);
                await ReadRepliesAsync(socket, expectedLines, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var microseconds = Stopwatch.GetElapsedTime(started).TotalMicroseconds;
            for (var p = 0; p < options.Pipeline; p++)
            {
                Latency.Record(microseconds);
            }
        }
    }

    /// <summary>A set answers one line; a get answers VALUE blocks then END. Anything else counts as an error.</summary>
    private async Task ReadRepliesAsync(Socket socket, List<bool> expectSet, CancellationToken stop)
    {
        var text = new StringBuilder();
        var answered = 0;
        while (answered < expectSet.Count)
        {
            var read = await socket.ReceiveAsync(_receive, SocketFlags.None, stop);
            if (read == 0)
            {
                throw new IOException("server closed the connection");
            }

            text.Append(Encoding.ASCII.GetString(_receive, 0, read));
            answered = 0;
            var all = text.ToString();
            var position = 0;
            while (answered < expectSet.Count)
            {
                var end = expectSet[answered]
                    ? all.IndexOf("\r\n", position, StringComparison.Ordinal)
                    : all.IndexOf("END\r\n", position, StringComparison.Ordinal);
                if (end < 0)
                {
                    break;
                }

                if (expectSet[answered] && string.CompareOrdinal(all, position, "STORED", 0, 6) != 0)
                {
                    Errors++;
                }

                position = end + (expectSet[answered] ? 2 : 5);
                answered++;
            }
        }
    }
}
