using System.Buffers;
using System.IO.Pipelines;
using Cairn.Protocol.Binary;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage.Log;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Connections;

/// <summary>
/// The connection loop over pipes: read what has arrived, answer every complete request in it, flush once. Kestrel
/// hands it TLS connections; plain ones run on the event loops (Transport/) and come here only when a command turns
/// them into a stream. How a connection starts and ends is decided here for both.
/// </summary>
public sealed partial class MemcachedConnectionHandler(ServerContext context, ILogger<MemcachedConnectionHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var statistics = context.Statistics;
        var input = connection.Transport.Input;
        var output = connection.Transport.Output;

        if (!statistics.TryOpenConnection(context.Options.MaxConnections))
        {
            // memcached's words, then close, so the client knows why rather than seeing a reset.
            TextResponseWriter.Write(output, TextReplies.TooManyConnections);
            await output.FlushAsync();
            context.Log.ConnectionRefused(connection.RemoteEndPoint);
            return;
        }

        var info = context.Connections.Add(connection.RemoteEndPoint, connection.LocalEndPoint, input.CancelPendingRead, context.NowUnixSeconds);
        IProtocolSession? session = null;
        LogOpened(logger, info.Id, connection.RemoteEndPoint);
        try
        {
            session = await StartSessionAsync(input, info);
            if (session is not null)
            {
                await RunAsync(session, connection, info);
            }
        }
        catch (ConnectionResetException)
        {
            // The peer went away mid-batch; nothing to answer.
        }
        catch (IOException)
        {
        }
        finally
        {
            EndConnection(context, logger, session, info);
        }
    }

    /// <summary>A connection's end, whichever transport carried it: its counters join the totals and it leaves the registry.</summary>
    internal static void EndConnection(ServerContext context, ILogger logger, IProtocolSession? session, ConnectionInfo info)
    {
        session?.Counters.DrainInto(context.Statistics.Totals);
        session?.Dispose();
        context.Connections.Remove(info);
        context.Statistics.ConnectionClosed();
        LogClosed(logger, info.Id);
    }

    /// <summary>Null when the peer left before its first byte; otherwise the session <see cref="ProtocolFor"/> picks.</summary>
    private async Task<IProtocolSession?> StartSessionAsync(PipeReader input, ConnectionInfo info)
    {
        byte? firstByte = null;
        if (ProtocolFor(context, firstByte: null) is null)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            if (result.IsCanceled || buffer.IsEmpty)
            {
                input.AdvanceTo(buffer.Start);
                return null;
            }

            firstByte = FirstByte(buffer);

            // Nothing consumed or examined: the loop's first read sees these bytes again at once.
            input.AdvanceTo(buffer.Start);
        }

        return CreateSession(context, info, firstByte);
    }

    /// <summary>
    /// Picks the protocol as memcached does with -B auto: a first byte of 0x80 (the binary request magic) means binary
    /// for the life of the connection, anything else text. Null when -B auto must wait for <paramref name="firstByte"/>.
    /// </summary>
    internal static ProtocolMode? ProtocolFor(ServerContext context, byte? firstByte)
    {
        // Authentication pins the protocol it guards whatever -B says, so the other protocol cannot bypass it:
        // -S serves only binary (text is dropped at its first "header"), -Y only text (binary bytes read as lines).
        var mode = context.SaslRequired ? ProtocolMode.Binary : context.AsciiAuthRequired ? ProtocolMode.Ascii : context.Options.Protocol;
        if (mode != ProtocolMode.Auto)
        {
            return mode;
        }

        return firstByte is { } first ? first == BinaryHeader.RequestMagic ? ProtocolMode.Binary : ProtocolMode.Ascii : null;
    }

    /// <summary>-B ascii reads binary bytes as text, and -B binary drops text once a "header" fails its magic: both as memcached.</summary>
    internal static IProtocolSession CreateSession(ServerContext context, ConnectionInfo info, byte? firstByte) =>
        ProtocolFor(context, firstByte) == ProtocolMode.Binary ? new BinaryProtocolSession(context, info) : new TextProtocolSession(context, info);

    private static byte FirstByte(in ReadOnlySequence<byte> buffer)
    {
        foreach (var segment in buffer)
        {
            if (!segment.IsEmpty)
            {
                return segment.Span[0];
            }
        }

        return 0;
    }

    private Task RunAsync(IProtocolSession session, ConnectionContext connection, ConnectionInfo info) =>
        RunPipeLoopAsync(context, logger, session, connection.Transport.Input, connection.Transport.Output, info,
            () => connection.Abort(new ConnectionAbortedException("the log could not be written")));

    /// <summary>
    /// The loop over pipes, for connections the event loops do not carry: TLS (Kestrel's middleware hands over a pipe
    /// over the SslStream) and connections a command turned into a stream (a replica's log stream, compact).
    /// </summary>
    internal static async Task RunPipeLoopAsync(ServerContext context, ILogger logger, IProtocolSession session, PipeReader input, PipeWriter output, ConnectionInfo info, Action abort)
    {
        var totals = session.Counters;
        while (true)
        {
            info.State = "conn_waiting";
            var result = await input.ReadAsync();
            if (result.IsCanceled)
            {
                // Shutdown: the batch before this read was answered and flushed; stop here.
                return;
            }

            info.State = "conn_parse_cmd";
            var buffer = result.Buffer;
            var available = buffer.Length;
            var held = session.HeldReplies;
            var outcome = session.Process(ref buffer, held ?? output);
            totals.Add(Counter.BytesRead, available - buffer.Length);

            if (outcome is BatchOutcome.FlushAndContinue or BatchOutcome.AwaitOperation)
            {
                input.AdvanceTo(buffer.Start);
            }
            else
            {
                input.AdvanceTo(buffer.Start, buffer.End);
            }

            string? refusal = null;
            if (context.Durability is not null && session.TakeWritesPending())
            {
                info.State = "conn_io_queue"; // memcached's name for waiting on queued I/O: here, the log
                try
                {
                    refusal = await AcknowledgementBarrier.PassAsync(context, held);
                }
                catch (LogWriteException error)
                {
                    // Never acknowledged, so nothing is lost: drop the connection with its replies unsent.
                    LogUnacknowledged(logger, info.Id, error.Message);
                    abort();
                    return;
                }
            }

            held?.ReleaseTo(output, refusal);
            if (!await FlushAsync(output, info, totals))
            {
                return;
            }

            if (outcome == BatchOutcome.AwaitOperation)
            {
                if (!await CompletePendingAsync(session, input, output, info))
                {
                    return;
                }

                continue;
            }

            if (outcome == BatchOutcome.Close || (result.IsCompleted && outcome == BatchOutcome.NeedMoreData))
            {
                return;
            }
        }
    }

    /// <summary>Finishes what a command left waiting and flushes its reply; false once the peer is gone.</summary>
    internal static async ValueTask<bool> CompletePendingAsync(IProtocolSession session, PipeReader input, PipeWriter output, ConnectionInfo info)
    {
        info.State = "conn_io_pending";
        await session.CompletePendingAsync(input, output);
        return await FlushAsync(output, info, session.Counters);
    }

    private static async ValueTask<bool> FlushAsync(PipeWriter output, ConnectionInfo info, CounterSet totals)
    {
        var unflushed = output.UnflushedBytes;
        if (unflushed == 0)
        {
            return true;
        }

        info.State = "conn_mwrite";
        totals.Add(Counter.BytesWritten, unflushed);
        var flush = await output.FlushAsync();
        return !flush.IsCompleted;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Error, Message = "connection {Id}: replies withheld and connection dropped, the log could not be written: {Reason}")]
    internal static partial void LogUnacknowledged(ILogger logger, long id, string reason);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "connection {Id} opened from {Remote}")]
    internal static partial void LogOpened(ILogger logger, long id, System.Net.EndPoint? remote);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "connection {Id} closed")]
    private static partial void LogClosed(ILogger logger, long id);

}

/// <summary>What the connection loop needs of a protocol: answer a batch, report writes, count, clean up.</summary>
public interface IProtocolSession : IDisposable
{
    CounterSet Counters { get; }

    /// <summary>Answers every complete request in <paramref name="buffer"/> into <paramref name="output"/>, consuming what it answered.</summary>
    BatchOutcome Process(ref ReadOnlySequence<byte> buffer, PipeWriter output);

    /// <summary>Reads and clears whether the batch wrote, so its replies must wait for the log.</summary>
    bool TakeWritesPending();

    /// <summary>Where the session writes while writes need confirming beyond the local log (replicas, leadership); else null.</summary>
    HeldReplies? HeldReplies { get; }

    /// <summary>Finishes the operation a request started when <see cref="Process"/> answered <see cref="BatchOutcome.AwaitOperation"/>.</summary>
    Task CompletePendingAsync(PipeReader input, PipeWriter output);
}
