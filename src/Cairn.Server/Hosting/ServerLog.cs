using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Server.Hosting;

/// <summary>
/// What -v, -vv and the "verbosity" command mean, in one place: 0 warnings and errors, 1 adds informational lines
/// (connections opened, closed and refused, failed authentications), 2 adds every command received, as memcached's -vv
/// does. The level is read on each log call, so "verbosity 2" takes effect at once.
/// </summary>
public sealed partial class ServerLog(ServerContext context)
{
    private long _refusedSinceLastLine;
    private long _lastRefusalLine = long.MinValue;

    /// <summary>Set once the host's logging exists; until then (and in tests without logging) lines go nowhere.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    public static LogLevel Threshold(int verbosity) => verbosity switch
    {
        <= 0 => LogLevel.Warning,
        1 => LogLevel.Information,
        2 => LogLevel.Debug,
        _ => LogLevel.Trace,
    };

    public void CommandLine(long connection, ReadOnlySpan<byte> line)
    {
        // An int read first: this runs for every command, and the logger's own check is a filter chain.
        if (context.Verbosity < 2)
        {
            return;
        }

        var logger = Logger;
        if (logger.IsEnabled(LogLevel.Debug))
        {
#pragma warning disable CA1873 // The string is built only inside the IsEnabled check above.
            LogCommand(logger, connection, System.Text.Encoding.Latin1.GetString(line));
#pragma warning restore CA1873
        }
    }

    public void BinaryCommand(long connection, Cairn.Protocol.Binary.BinaryOpcode opcode, int keyLength)
    {
        if (context.Verbosity >= 2 && Logger.IsEnabled(LogLevel.Debug))
        {
            LogBinaryCommand(Logger, connection, opcode, keyLength);
        }
    }

    public void AuthenticationFailed(long connection, string mechanism) => LogAuthenticationFailed(Logger, connection, mechanism);

    /// <summary>A refusal over -c is logged at most once a second, with how many were refused since the last line.</summary>
    public void ConnectionRefused(System.Net.EndPoint? remote)
    {
        long refused = Interlocked.Increment(ref _refusedSinceLastLine);
        long now = context.NowUnixSeconds;
        long last = Volatile.Read(ref _lastRefusalLine);
        if (now > last && Interlocked.CompareExchange(ref _lastRefusalLine, now, last) == last)
        {
            refused = Interlocked.Exchange(ref _refusedSinceLastLine, 0);
            LogRefused(Logger, refused, remote, context.Options.MaxConnections);
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "replication: promoted to primary with replication id {ReplicationId} at sequence {Sequence}")]
    public static partial void Promoted(ILogger logger, string replicationId, ulong sequence);

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "<{Connection} {Line}")]
    private static partial void LogCommand(ILogger logger, long connection, string line);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "<{Connection} binary {Opcode}, key of {KeyLength} bytes")]
    private static partial void LogBinaryCommand(ILogger logger, long connection, Cairn.Protocol.Binary.BinaryOpcode opcode, int keyLength);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "connection {Connection}: authentication failed ({Mechanism})")]
    private static partial void LogAuthenticationFailed(ILogger logger, long connection, string mechanism);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "refused {Count} connection(s) in the last second, the latest from {Remote}: too many open connections (-c {Limit})")]
    private static partial void LogRefused(ILogger logger, long count, System.Net.EndPoint? remote, int limit);
}
