using System.Net.Sockets;

namespace Cairn.Replication;

/// <summary>What a finished download holds: every item as of <see cref="CoversSequence"/> of <see cref="ReplicationId"/>.</summary>
public sealed record SnapshotDownloadResult(string ReplicationId, ulong CoversSequence, long Records, long Bytes);

/// <summary>
/// An online backup's transfer: asks a Cairn primary for a full resync as a replica with no history would, so the
/// server compacts and streams its snapshot (every item as of one point in its log) while it keeps serving; takes
/// the snapshot's records up to its end frame and leaves before the live log. The same frames a replica reads.
/// </summary>
public static class SnapshotDownload
{
    public delegate void RecordReceived(ReadOnlySpan<byte> record, long records, long bytes);

    public static SnapshotDownloadResult Run(string host, int port, RecordReceived onRecord, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(onRecord);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

        // Blocking reads end when the socket is closed under them: that is how Ctrl-C stops a download.
        using var interrupt = cancellation.Register(socket.Dispose);
        socket.Connect(host, port);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        stream.Write(ReplicationFrames.Request(null, 0));
        using var buffered = new BufferedStream(stream, 256 * 1024);
        var frames = new ReplicationStreamReader(buffered);
        var answer = frames.ReadAnswerLine();
        if (answer.Split(' ') is not ["FULLRESYNC", var replicationId, _])
        {
            throw new InvalidDataException($"{host}:{port} answered '{answer}' to a snapshot request (a Cairn primary with its log is needed)");
        }

        long records = 0, bytes = 0;
        while (true)
        {
            switch (frames.ReadKind())
            {
                case ReplicationFrames.SnapshotRecord:
                    var record = frames.ReadRecord();
                    records++;
                    bytes += record.Length;
                    onRecord(record, records, bytes);
                    break;
                case ReplicationFrames.Heartbeat:
                    _ = frames.ReadNumber();
                    break;
                case ReplicationFrames.SnapshotEnd:
                    return new SnapshotDownloadResult(replicationId, frames.ReadNumber(), records, bytes);
                case var kind:
                    throw new InvalidDataException($"a frame of kind {kind} before the snapshot ended");
            }
        }
    }
}
