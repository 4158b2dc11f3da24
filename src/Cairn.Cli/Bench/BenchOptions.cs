using System.Globalization;
using Cairn.Cli.Commands;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Bench;

internal enum BenchProtocol
{
    Text,
    Meta,
}

internal enum KeyPattern
{
    Uniform,
    Zipf,
}

/// <summary>`cairn bench` settings, parsed and checked.</summary>
internal sealed record BenchOptions
{
    /// <summary>What `cairn bench --help` says above the options System.CommandLine lists.</summary>
    public const string Description = """
        A closed-loop load test: every connection sends a request (or a pipeline of them), checks the replies
        and records the latency (HdrHistogram). A wrong reply counts as an error. With --rate it is an open loop
        instead, and latency counts from when each request was due (coordinated omission corrected).

        exit codes: 0 no errors, 1 some requests failed, 2 usage error, 3 server unreachable
        """;

    public required ServerAddress Server { get; init; }

    public int Threads { get; init; } = 20;

    public int Clients { get; init; } = 10;

    public int Connections { get; init; } = 200;

    public long RequestsPerConnection { get; init; } = 100;

    /// <summary>Zero: run by request count.</summary>
    public double DurationSeconds { get; init; }

    public int SetWeight { get; init; } = 1;

    public int GetWeight { get; init; } = 10;

    public int ValueSize { get; init; } = 100;

    public int Keys { get; init; } = 10_000;

    public KeyPattern KeyPattern { get; init; }

    public int Pipeline { get; init; } = 1;

    public BenchProtocol Protocol { get; init; }

    public bool Json { get; init; }

    public bool Progress { get; init; }

    /// <summary>Requests a second across all connections (open loop); null: each connection sends as fast as answered.</summary>
    public double? RatePerSecond { get; init; }

    /// <summary>Under <see cref="RatePerSecond"/>, how far apart one connection's batches are due.</summary>
    public TimeSpan BatchInterval => RatePerSecond is { } rate ? TimeSpan.FromSeconds(Connections * (double)Pipeline / rate) : TimeSpan.Zero;

    public static BenchOptions From(ParsedArguments parsed, ServerAddress server)
    {
        var threads = parsed.GetInt32("threads", 20, 1, 10_000);
        var clients = parsed.GetInt32("clients", 10, 1, 10_000);
        var (setWeight, getWeight) = ParseRatio(parsed.Get("ratio") ?? "1:10");
        double? rate = null;
        if (parsed.Get("rate") is { } rateText)
        {
            rate = double.TryParse(rateText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var perSecond) && perSecond > 0
                ? perSecond
                : throw new UsageException("--rate must be a positive number of requests a second");
        }

        var duration = 0.0;
        if (parsed.Get("duration") is { } durationText
            && (!double.TryParse(durationText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out duration) || duration <= 0))
        {
            throw new UsageException("--duration must be a positive number of seconds");
        }

        return new BenchOptions
        {
            Server = server,
            Threads = threads,
            Clients = clients,
            Connections = parsed.GetInt32("connections", threads * clients, 1, 100_000),
            RequestsPerConnection = parsed.GetInt64("requests", 100, 1, long.MaxValue),
            DurationSeconds = duration,
            SetWeight = setWeight,
            GetWeight = getWeight,
            ValueSize = parsed.GetInt32("value-size", 100, 0, 1024 * 1024),
            Keys = parsed.GetInt32("keys", 10_000, 1, 100_000_000),
            KeyPattern = (parsed.Get("key-pattern") ?? "uniform") switch
            {
                "uniform" => KeyPattern.Uniform,
                "zipf" => KeyPattern.Zipf,
                var other => throw new UsageException($"--key-pattern must be uniform or zipf, not '{other}'"),
            },
            Pipeline = parsed.GetInt32("pipeline", 1, 1, 10_000),
            Protocol = (parsed.Get("protocol") ?? "text") switch
            {
                "text" or "ascii" => BenchProtocol.Text,
                "meta" => BenchProtocol.Meta,
                var other => throw new UsageException($"--protocol must be text or meta, not '{other}'"),
            },
            Json = parsed.Has("json"),
            Progress = parsed.Has("progress"),
            RatePerSecond = rate,
        };
    }

    private static (int Set, int Get) ParseRatio(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var set)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var get)
            && (long)set + get is > 0 and <= int.MaxValue)
        {
            return (set, get);
        }

        throw new UsageException($"--ratio must be SET:GET, like 1:10, not '{text}'");
    }
}
