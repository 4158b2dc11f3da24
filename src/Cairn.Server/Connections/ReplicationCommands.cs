using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;

namespace Cairn.Server.Connections;

/// <summary>
/// What a text command left its connection to wait for: an operation whose end is answered OK (or the error it
/// threw), or a stream that takes the connection over (a replica's log stream).
/// </summary>
public readonly record struct PendingWork(Task? Operation, Func<PipeReader, PipeWriter, Task>? Stream);

/// <summary>The replication commands on the memcached port: "replicate" (a replica asking for the log) and "replicaof".</summary>
public static class ReplicationCommands
{
    /// <summary>"replicate &lt;replid&gt; &lt;sequence&gt; [node-id]": from here this connection carries the log to a replica.</summary>
    public static PendingWork? Replicate(ServerContext context, ref TextCommand command, EndPoint? remote, IBufferWriter<byte> output)
    {
        if (context.Replication is not { } replication)
        {
            TextReplyWriter.ServerError(output, "replication needs the log (this server runs with --no-persist)");
            return null;
        }

        if (!AsciiNumber.TryParseUInt64(command.Tokens[2], out var sequence))
        {
            TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
            return null;
        }

        // No chains: two nodes each told to follow the other (a failover done in the wrong order) would ship each
        // other's full resyncs back and forth and wipe both. A replica asking here keeps retrying until this node leads.
        if (replication.State.IsReplica)
        {
            TextReplyWriter.ServerError(output, "this node is a replica; replicate from its primary");
            return null;
        }

        var requestedId = Encoding.ASCII.GetString(command.Tokens[1]);
        var nodeId = command.Tokens.Count == 5 ? Encoding.ASCII.GetString(command.Tokens[3]) : null;
        var request = new Cairn.Replication.ReplicationRequest(requestedId, sequence, nodeId, remote);
        var stopping = context.Stopping;
        return new PendingWork(null, (input, stream) => replication.Primary.StreamAsync(input, stream, request, stopping));
    }

    /// <summary>"replicaof &lt;host&gt; &lt;port&gt;" follows that primary; "replicaof no one" promotes this node.</summary>
    public static PendingWork? ReplicaOf(ServerContext context, ref TextCommand command, IBufferWriter<byte> output)
    {
        if (!context.Options.ReplicaOfCommandEnabled)
        {
            TextResponseWriter.Write(output, TextReplies.ReplicaOfNotEnabled);
            return null;
        }

        if (context.Replication is not { } replication)
        {
            TextReplyWriter.ServerError(output, "replication needs the log (this server runs with --no-persist)");
            return null;
        }

        var first = Encoding.ASCII.GetString(command.Tokens[1]);
        var second = Encoding.ASCII.GetString(command.Tokens[2]);
        if (first.Equals("no", StringComparison.OrdinalIgnoreCase) && second.Equals("one", StringComparison.OrdinalIgnoreCase))
        {
            return new PendingWork(replication.PromoteAsync(), null);
        }

        if (!int.TryParse(second, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
            return null;
        }

        return new PendingWork(replication.FollowAsync(first, port), null);
    }
}
