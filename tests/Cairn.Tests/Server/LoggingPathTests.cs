using System.Text.Json;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;
using Microsoft.Extensions.Logging;

namespace Cairn.Tests.Server;

/// <summary>One logging path: storage and replication events reach the same ILogger as the server's, in text or JSON.</summary>
public sealed class LoggingPathTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cairn-logging-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    [Fact]
    public async Task Recovery_events_reach_a_configured_logger_with_their_storage_event_id()
    {
        await using (var first = await TestServer.StartAsync(options => options.DataDirectory = _data))
        {
            using var client = await first.ConnectAsync();
            await client.RoundTripAsync("set k 0 0 1\r\nx\r\n", "STORED\r\n");
        }

        var segment = Directory.GetFiles(_data, "log-*.seg").Order(StringComparer.Ordinal).Last();
        await File.AppendAllTextAsync(segment, "torn");

        var captured = new List<(string Category, EventId Event, string Message)>();
        var options = new ServerOptions { Port = 0, PortGiven = true, DataDirectory = _data };
        await using var server = CairnServer.Create(options, configureLogging: logging =>
        {
            logging.SetMinimumLevel(LogLevel.Warning);
            logging.AddProvider(new CapturingProvider(captured));
        });

        var cut = Assert.Single(captured, line => line.Event.Id == 103);
        Assert.Equal("Cairn.Storage", cut.Category);
        Assert.Contains($"torn tail (", cut.Message, StringComparison.Ordinal);
        Assert.Contains(segment, cut.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Log_format_json_writes_one_object_per_line_with_category_and_event_id()
    {
        using var server = await ChildServer.StartAsync(["--no-persist", "-v", "--log-format", "json"]);
        using (var client = await TestClient.ConnectAsync(server.EndPoint))
        {
            await client.RoundTripAsync("get k\r\n", "END\r\n");
        }

        string[] json = [];
        for (var i = 0; i < 50 && json.Length == 0; i++)
        {
            await Task.Delay(100);
            json = [.. server.ErrorLines().Where(line => line.StartsWith('{'))];
        }

        Assert.NotEmpty(json);
        var events = json.Select(line => JsonDocument.Parse(line).RootElement).ToArray();
        Assert.Contains(events, e => e.GetProperty("Category").GetString()!.StartsWith("Cairn.Server", StringComparison.Ordinal)
            && e.GetProperty("Message").GetString()!.Contains("opened from 127.0.0.1:", StringComparison.Ordinal)
            && e.GetProperty("EventId").GetInt32() > 0);
    }

    [Fact]
    public void A_log_format_other_than_text_or_json_is_refused_naming_the_flag() =>
        Assert.Equal("--log-format must be text or json, not 'xml'",
            Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--log-format", "xml"])).Message);

    private sealed class CapturingProvider(List<(string, EventId, string)> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Capturing(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class Capturing(string category, List<(string, EventId, string)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (lines)
            {
                lines.Add((category, eventId, formatter(state, exception)));
            }
        }
    }
}
