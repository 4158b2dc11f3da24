using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Cairn.Storage.Log;

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
        using var reader = new BufferedStream(stream, 256 * 1024);
        var answer = ReadLine(reader);
        if (answer.Split(' ') is not ["FULLRESYNC", var replicationId, _])
        {
            throw new InvalidDataException($"{host}:{port} answered '{answer}' to a snapshot request (a Cairn primary with its log is needed)");
        }

        var header = new byte[LogRecords.HeaderSize];
        var number = new byte[8];
        var record = new byte[64 * 1024];
        long records = 0, bytes = 0;
        while (true)
        {
            int kind = reader.ReadByte();
            switch (kind)
            {
                case < 0:
                    throw new IOException($"{host}:{port} closed the stream before the snapshot ended");
                case ReplicationFrames.SnapshotRecord:
                    reader.ReadExactly(header);
                    int length = LogRecords.PeekLength(header);
                    if (length < header.Length)
                    {
                        throw new InvalidDataException("a record with an impossible length");
                    }

                    if (record.Length < length)
                    {
                        record = new byte[length];
                    }

                    header.CopyTo(record, 0);
                    reader.ReadExactly(record.AsSpan(header.Length, length - header.Length));
                    records++;
                    bytes += length;
                    onRecord(record.AsSpan(0, length), records, bytes);
                    break;
                case ReplicationFrames.Heartbeat:
                    reader.ReadExactly(number);
                    break;
                case ReplicationFrames.SnapshotEnd:
                    reader.ReadExactly(number);
                    return new SnapshotDownloadResult(replicationId, BinaryPrimitives.ReadUInt64LittleEndian(number), records, bytes);
                default:
                    throw new InvalidDataException($"a frame of kind {kind} before the snapshot ended");
            }
        }
    }

    private static string ReadLine(Stream reader)
    {
        var line = new StringBuilder();
        for (int b = reader.ReadByte(); b != '\n'; b = reader.ReadByte())
        {
            if (b < 0 || line.Length > 1024)
            {
                throw new IOException("the server closed the connection before answering");
            }

            line.Append((char)b);
        }

        return line.ToString().TrimEnd('\r');
    }
}
