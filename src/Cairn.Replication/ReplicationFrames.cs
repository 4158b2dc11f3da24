using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Cairn.Replication;

/// <summary>
/// The replication stream. A replica sends one line on the memcached port, "replicate &lt;replid&gt; &lt;sequence&gt;"
/// ("-" for a replica with no history). The primary answers one line, "CONTINUE &lt;replid&gt;" or
/// "FULLRESYNC &lt;replid&gt; &lt;covers&gt;", and from then on sends frames, each a kind byte and its body:
/// 'L' a log record, 'S' a snapshot record (full resync only), each as its on-disk bytes with their CRC;
/// 'E' the snapshot ended (8 bytes: the sequence it covers through); 'H' a heartbeat (8 bytes: the primary's last
/// written sequence), sent when the primary has had nothing else to say for a while. The replica sends back only
/// 'A' frames (8 bytes: the last primary sequence it holds durably under its own fsync policy).
/// </summary>
public static class ReplicationFrames
{
    public const byte LogRecord = (byte)'L';
    public const byte SnapshotRecord = (byte)'S';
    public const byte SnapshotEnd = (byte)'E';
    public const byte Heartbeat = (byte)'H';
    public const byte Acknowledgement = (byte)'A';
    public const int AcknowledgementSize = 9;

    /// <summary>What a replica with no history sends in place of a replication id.</summary>
    public const string NoHistory = "-";

    public static byte[] Request(string? replicationId, ulong afterSequence, string? nodeId = null) =>
        Encoding.ASCII.GetBytes(nodeId is null
            ? $"replicate {replicationId ?? NoHistory} {afterSequence}\r\n"
            : $"replicate {replicationId ?? NoHistory} {afterSequence} {nodeId}\r\n");

    public static void WriteRecord(IBufferWriter<byte> output, byte kind, ReadOnlySpan<byte> record)
    {
        var span = output.GetSpan(1 + record.Length);
        span[0] = kind;
        record.CopyTo(span[1..]);
        output.Advance(1 + record.Length);
    }

    public static void WriteNumber(IBufferWriter<byte> output, byte kind, ulong number)
    {
        var span = output.GetSpan(9);
        span[0] = kind;
        BinaryPrimitives.WriteUInt64LittleEndian(span[1..], number);
        output.Advance(9);
    }
}
