using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;
using Microsoft.Extensions.Logging;

namespace Cairn.Replication;

/// <summary>What a replica asked for: the history it holds, how far, and (with --etcd) which node it is.</summary>
public sealed record ReplicationRequest(string ReplicationId, ulong AfterSequence, string? NodeId, EndPoint? Remote);

/// <summary>
/// The primary's side: answers a replica's "replicate" request on its connection and then streams the log to it
/// until the replica goes away or the server stops, reading the replica's acknowledgements from the same connection.
/// A replica whose id is not this node's, or whose position the log no longer holds (compacted) or never held
/// (beyond it), gets a full resync: the snapshot, then everything after it.
/// </summary>
public sealed class ReplicationPrimary(DurableStore durable, ReplicationState state, TimeProvider time, ILogger log)
{
    /// <summary>Bytes of records sent before a flush, so a replica far behind still receives steadily.</summary>
    private const int FlushBytes = 256 * 1024;

    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(100);

    public async Task StreamAsync(PipeReader input, PipeWriter output, ReplicationRequest request, CancellationToken stopping)
    {
        bool sameHistory = request.ReplicationId == state.PrimaryId;
        if (sameHistory && request.AfterSequence > durable.Log.LastAppendedSequence)
        {
            // A replica claiming more of this history than exists has diverged (or its files were swapped): say so.
            ReplicationLog.ReplicaAheadOfPrimary(log, request.NodeId ?? (object?)request.Remote, request.AfterSequence, durable.Log.LastAppendedSequence);
        }
        else if (!sameHistory && request.ReplicationId != ReplicationFrames.NoHistory)
        {
            ReplicationLog.ReplicaOtherHistory(log, request.NodeId ?? (object?)request.Remote, request.ReplicationId);
        }

        var full = !sameHistory || request.AfterSequence > durable.Log.LastWrittenSequence || LogTail.WouldNeedFullResync(durable.Log, request.AfterSequence);
        if (full)
        {
            // A full resync ships the live items as one fresh snapshot and the tail after it, not the log's whole history
            // (which holds every earlier resync this node received and would grow with each failover).
            await durable.CompactAsync(stopping);
        }

        using var tail = LogTail.Open(durable.Log, request.AfterSequence, forceFullResync: full);
        state.CountResync(tail.FullResync);
        var header = tail.FullResync ? $"FULLRESYNC {state.PrimaryId} {tail.SnapshotCovers}\r\n" : $"CONTINUE {state.PrimaryId}\r\n";
        output.Write(Encoding.ASCII.GetBytes(header));
        var replica = state.AddReplica(request.Remote, request.NodeId);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var acknowledgements = ReadAcknowledgementsAsync(input, replica, linked);
        try
        {
            await SendAsync(output, tail, replica, linked.Token);
        }
        catch (OperationCanceledException)
        {
        }
        catch (LogTailGapException gap)
        {
            // The replica reconnects, finds its position compacted away, and is sent a full resync.
            ReplicationLog.StreamEnded(log, request.NodeId ?? (object?)request.Remote, gap.Message);
        }
        finally
        {
            await linked.CancelAsync();
            await acknowledgements;
            state.RemoveReplica(replica);
        }
    }

    private async Task SendAsync(PipeWriter output, LogTail tail, ConnectedReplica replica, CancellationToken stopping)
    {
        bool snapshotEnded = !tail.FullResync;
        while (!stopping.IsCancellationRequested)
        {
            int unflushed = 0;
            while (unflushed < FlushBytes && tail.TryReadNext(out var record, out var fromSnapshot))
            {
                if (!fromSnapshot && !snapshotEnded)
                {
                    snapshotEnded = true;
                    ReplicationFrames.WriteNumber(output, ReplicationFrames.SnapshotEnd, tail.SnapshotCovers);
                }

                ReplicationFrames.WriteRecord(output, fromSnapshot ? ReplicationFrames.SnapshotRecord : ReplicationFrames.LogRecord, record);
                unflushed += record.Length + 1;
            }

            if (!snapshotEnded && !tail.InSnapshot)
            {
                snapshotEnded = true;
                ReplicationFrames.WriteNumber(output, ReplicationFrames.SnapshotEnd, tail.SnapshotCovers);
                unflushed++;
            }

            if (unflushed > 0)
            {
                replica.Sent(tail.Position);
                var flushed = await output.FlushAsync(stopping);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return;
                }

                continue;
            }

            // Caught up: sleep until the writer writes past what was sent, or say we are alive.
            try
            {
                await durable.Log.WhenWrittenAfter(tail.Position).WaitAsync(HeartbeatInterval, time, stopping);
            }
            catch (TimeoutException)
            {
                ReplicationFrames.WriteNumber(output, ReplicationFrames.Heartbeat, durable.Log.LastWrittenSequence);
                var flushed = await output.FlushAsync(stopping);
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Every whole 'A' frame in <paramref name="buffer"/> moves the replica's position; returns what is left.</summary>
    private static ReadOnlySequence<byte> ApplyAcknowledgements(ReadOnlySequence<byte> buffer, ConnectedReplica replica)
    {
        Span<byte> frame = stackalloc byte[ReplicationFrames.AcknowledgementSize];
        ulong? latest = null;
        while (buffer.Length >= frame.Length)
        {
            buffer.Slice(0, frame.Length).CopyTo(frame);
            if (frame[0] != ReplicationFrames.Acknowledgement)
            {
                throw new InvalidDataException($"a replica sent frame kind {frame[0]}");
            }

            latest = BinaryPrimitives.ReadUInt64LittleEndian(frame[1..]);
            buffer = buffer.Slice(frame.Length);
        }

        if (latest is { } sequence)
        {
            replica.Acknowledged(sequence);
        }

        return buffer;
    }

    /// <summary>Reads 'A' frames (the sequence the replica holds durably) until the replica hangs up; then ends the stream.</summary>
    private static async Task ReadAcknowledgementsAsync(PipeReader input, ConnectedReplica replica, CancellationTokenSource stream)
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(stream.Token);
                var buffer = result.Buffer;
                buffer = ApplyAcknowledgements(buffer, replica);

                input.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or InvalidDataException or InvalidOperationException)
        {
        }
        finally
        {
            // The replica is gone (or spoke nonsense): stop streaming to it at once, so it stops counting.
            try
            {
                await stream.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
