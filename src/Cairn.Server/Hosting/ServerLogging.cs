using Microsoft.Extensions.Logging;

namespace Cairn.Server.Hosting;

/// <summary>
/// The one logging path: a logger factory made before the data directory is opened, so recovery, replication,
/// failover and the host all log through it (categories Cairn.Storage, Cairn.Replication, Cairn.Server,
/// Microsoft.*), and the host is handed the same factory. Cairn's categories follow the verbosity as it is now,
/// so "verbosity 2" or -vv change what is printed at run time.
/// </summary>
public static class ServerLogging
{
    public static ILoggerFactory CreateFactory(ServerOptions options, Func<int> verbosity, Action<ILoggingBuilder>? configure)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(verbosity);
        return LoggerFactory.Create(logging =>
        {
            if (configure is not null)
            {
                configure(logging);
                return;
            }

            if (options.LogFormat == LogFormat.Json)
            {
                // One JSON object per line with the event id and each message argument as its own field, for shippers.
                logging.AddJsonConsole(json =>
                {
                    json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                    json.UseUtcTimestamp = true;
                });
            }
            else
            {
                logging.AddSimpleConsole(console =>
                {
                    console.SingleLine = true;
                    console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss ";
                });
            }

            logging.SetMinimumLevel(LogLevel.Warning);
            logging.AddFilter("Cairn", level => level >= ServerLog.Threshold(verbosity()));
            logging.AddFilter("Microsoft", options.Verbosity >= 2 ? LogLevel.Information : LogLevel.Warning);

            // The generic host's lifetime lines speak of HTTP and Ctrl+C; Cairn prints its own listening line, and
            // a failed start is said in one line by the executable (StartupException), not as a stack trace.
            logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
            logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
            logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", options.Verbosity >= 2 ? LogLevel.Information : LogLevel.Error);
        });
    }
}

/// <summary>--log-format: how log lines are written to stderr.</summary>
public enum LogFormat
{
    Text,
    Json,
}
