using System.Buffers.Binary;
using System.Text;
using Cairn.Storage.Log;

namespace Cairn.Replication;

/// <summary>
/// Reads what a primary sends after "replicate": its answer line, then frames (<see cref="ReplicationFrames"/>). One
/// reader for a replica's follower and for `cairn backup`, so both take records off the wire the same way.
/// </summary>
public sealed class ReplicationStreamReader(Stream stream)
{
    private const int LongestAnswer = 200;
    private readonly byte[] _header = new byte[LogRecords.HeaderSize];
    private readonly byte[] _number = new byte[8];
    private byte[] _record = new byte[64 * 1024];

    /// <summary>The primary's answer ("CONTINUE id" or "FULLRESYNC id covers"), without its line end.</summary>
    public string ReadAnswerLine()
    {
        var line = new StringBuilder();
        while (true)
        {
            int next = stream.ReadByte();
            if (next < 0)
            {
                throw new IOException("the primary closed the stream before answering");
            }

            if (next == '\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            if (line.Length > LongestAnswer)
            {
                throw new InvalidDataException("the primary's answer line is too long");
            }

            line.Append((char)next);
        }
    }

    /// <summary>The next frame's kind byte.</summary>
    /// <exception cref="IOException">The primary closed the stream.</exception>
    public byte ReadKind()
    {
        int kind = stream.ReadByte();
        return kind < 0 ? throw new IOException("the primary closed the stream") : (byte)kind;
    }

    /// <summary>An 'L' or 'S' frame's record with its CRC, valid until the next read.</summary>
    public ReadOnlySpan<byte> ReadRecord()
    {
        stream.ReadExactly(_header);
        int length = LogRecords.PeekLength(_header);
        if (length < LogRecords.HeaderSize)
        {
            throw new InvalidDataException("a record with an impossible length");
        }

        if (_record.Length < length)
        {
            _record = new byte[length];
        }

        _header.CopyTo(_record, 0);
        stream.ReadExactly(_record.AsSpan(_header.Length, length - _header.Length));
        return _record.AsSpan(0, length);
    }

    /// <summary>An 'E' or 'H' frame's sequence number.</summary>
    public ulong ReadNumber()
    {
        stream.ReadExactly(_number);
        return BinaryPrimitives.ReadUInt64LittleEndian(_number);
    }
}
