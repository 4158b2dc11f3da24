using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Text;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;

namespace Cairn.Replication;

/// <summary>
/// The primary's side: answers a replica's "replicate" request on its connection and then streams the log to it
/// until the replica goes away or the server stops. A replica whose id is not this node's, or whose position the log
/// no longer holds (compacted) or never held (beyond it), gets a full resync: the snapshot, then everything after it.
/// </summary>
public sealed class ReplicationPrimary(DurableStore durable, ReplicationState state, TimeProvider time)
{
    /// <summary>Bytes of records sent before a flush, so a replica far behind still receives steadily.</summary>
    private const int FlushBytes = 256 * 1024;

    /// <summary>How often a caught-up stream looks for new records; it bounds replication lag on an idle link.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);

    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(100);

    public async Task StreamAsync(PipeWriter output, string requestedId, ulong afterSequence, EndPoint? remote, CancellationToken stopping)
    {
        bool sameHistory = requestedId == state.PrimaryId;
        using var tail = LogTail.Open(durable.Log, afterSequence, forceFullResync: !sameHistory);
        state.CountResync(tail.FullResync);
        var header = tail.FullResync ? $"FULLRESYNC {state.PrimaryId} {tail.SnapshotCovers}\r\n" : $"CONTINUE {state.PrimaryId}\r\n";
        output.Write(Encoding.ASCII.GetBytes(header));
        var replica = state.AddReplica(remote);
        try
        {
            bool snapshotEnded = !tail.FullResync;
            long lastSent = time.GetTimestamp();
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

                if (unflushed == 0 && time.GetElapsedTime(lastSent) >= HeartbeatInterval)
                {
                    ReplicationFrames.WriteNumber(output, ReplicationFrames.Heartbeat, durable.Log.LastWrittenSequence);
                    unflushed = 1;
                }

                if (unflushed > 0)
                {
                    replica.Sent(tail.Position);
                    lastSent = time.GetTimestamp();
                    var flushed = await output.FlushAsync(stopping);
                    if (flushed.IsCompleted || flushed.IsCanceled)
                    {
                        return;
                    }

                    continue;
                }

                await Task.Delay(PollInterval, time, stopping);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            state.RemoveReplica(replica);
        }
    }
}
