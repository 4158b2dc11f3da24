using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Cairn.Storage.Log;

// On-disk format, version 1. Every integer is little-endian.
//
// A segment file (log-<16 hex digits>.seg) starts with a 48-byte header:
//    0  8  magic "CAIRNLOG"
//    8  2  format version (1)
//   10  2  kind: 1 = log segment, 2 = snapshot (written by compaction, only ever first in the manifest)
//   12  4  reserved, 0
//   16  8  segment id, the number in the file name
//   24  8  previous sequence: the sequence of the last record before this segment (0 for the first segment);
//          for a snapshot, the sequence it covers through, so the next segment continues from it
//   32  8  highest cas issued when a snapshot was taken (0 in log segments), so CAS never goes backwards
//   40  4  reserved, 0
//   44  4  CRC-32C of bytes 0..44
//
// Records follow back to back, each self-delimiting:
//    0  4  CRC-32C of bytes 4..length (so the length is covered too)
//    4  4  length of the whole record, these 20 header bytes included
//    8  8  sequence: strictly increasing through the log (snapshot records count 1, 2, ... in their snapshot)
//   16  1  type (LogRecordType)
//   17  1  key length (0 for FlushAll and FlushDelayed)
//   18  1  Set: item marks (1 = stale, from md/ms I: a restart must not serve it as fresh); 0 otherwise
//   19  1  reserved, 0
//   20     then by type:
//          Set           flags u32, expiresAt i64, cas u64, storedAt i64, key, value (the rest)   48 + key + value
//          Delete        key                                                                        20 + key
//          Touch         expiresAt i64, key                                                         28 + key
//          FlushAll      casUpTo u64 (replay drops items whose cas <= casUpTo)                      28
//          FlushDelayed  flushAt i64 (Unix seconds)                                                 28
//
// A zeroed or cut-off record fails the length or CRC check, which is how recovery finds a torn tail.

/// <summary>Encodes and validates log records and segment headers (layout above).</summary>
internal static class LogRecordCodec
{
    public const int HeaderSize = 20;
    public const int SetFixedSize = 48;
    public const int TouchFixedSize = 28;
    public const int FlushSize = 28;
    public const int MaxKeyLength = 250;
    public const int MaxValueLength = 1024 * 1024 * 1024;
    public const int MaxRecordLength = SetFixedSize + MaxKeyLength + MaxValueLength;

    public const int SegmentHeaderSize = 48;
    public const ushort FormatVersion = 1;
    public const ushort KindLog = 1;
    public const ushort KindSnapshot = 2;

    /// <summary>Byte 18 of a Set record: the item was invalidated (md I / ms I) and is served as stale.</summary>
    public const byte MarkStale = 1;

    private static ReadOnlySpan<byte> Magic => "CAIRNLOG"u8;

    public static void ValidateKey(ReadOnlySpan<byte> key)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            ThrowBadKey(key.Length);
        }
    }

    public static void ValidateValue(long length)
    {
        if ((ulong)length > MaxValueLength)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "log values are at most 1 GiB");
        }
    }

    public static int SetLength(int keyLength, long valueLength) => SetFixedSize + keyLength + (int)valueLength;

    public static void WriteSet(Span<byte> record, ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale = false)
    {
        WriteSetFixed(record, sequence, key, flags, expiresAt, cas, storedAt, stale);
        value.CopyTo(record[(SetFixedSize + key.Length)..]);
    }

    public static void WriteDelete(Span<byte> record, ulong sequence, ReadOnlySpan<byte> key)
    {
        WriteHeader(record, HeaderSize + key.Length, sequence, LogRecordType.Delete, key.Length);
        key.CopyTo(record[HeaderSize..]);
    }

    public static void WriteTouch(Span<byte> record, ulong sequence, ReadOnlySpan<byte> key, long expiresAt)
    {
        WriteHeader(record, TouchFixedSize + key.Length, sequence, LogRecordType.Touch, key.Length);
        BinaryPrimitives.WriteInt64LittleEndian(record[20..], expiresAt);
        key.CopyTo(record[TouchFixedSize..]);
    }

    public static void WriteFlush(Span<byte> record, ulong sequence, LogRecordType type, ulong argument)
    {
        WriteHeader(record, FlushSize, sequence, type, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(record[20..], argument);
    }

    /// <summary>Fills in the CRC of each complete record in <paramref name="records"/> (done by the writer, off the appenders' lock).</summary>
    public static void SealAll(Span<byte> records)
    {
        while (!records.IsEmpty)
        {
            int length = BinaryPrimitives.ReadInt32LittleEndian(records[4..]);
            var record = records[..length];
            BinaryPrimitives.WriteUInt32LittleEndian(record, Crc32C.Compute(record[4..]));
            records = records[length..];
        }
    }

    /// <summary>
    /// The record length from its first 8 bytes when it is plausible (at least a header, at most the largest record);
    /// -1 otherwise. Zeroed bytes give -1.
    /// </summary>
    public static int PeekLength(ReadOnlySpan<byte> header)
    {
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        return length is >= HeaderSize and <= MaxRecordLength ? (int)length : -1;
    }

    /// <summary>Checks CRC and structure of one whole record and decodes it; the spans point into <paramref name="record"/>.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> record, out LogRecord decoded)
    {
        decoded = default;
        if (record.Length < HeaderSize
            || BinaryPrimitives.ReadUInt32LittleEndian(record[4..]) != (uint)record.Length
            || !HasPlausibleShape(record)
            || BinaryPrimitives.ReadUInt32LittleEndian(record) != Crc32C.Compute(record[4..]))
        {
            return false;
        }

        ulong sequence = BinaryPrimitives.ReadUInt64LittleEndian(record[8..]);
        var type = (LogRecordType)record[16];
        int keyLength = record[17];
        switch (type)
        {
            case LogRecordType.Set:
                decoded = new LogRecord(
                    type,
                    sequence,
                    record.Slice(SetFixedSize, keyLength),
                    record[(SetFixedSize + keyLength)..],
                    BinaryPrimitives.ReadUInt32LittleEndian(record[20..]),
                    BinaryPrimitives.ReadInt64LittleEndian(record[24..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(record[32..]),
                    BinaryPrimitives.ReadInt64LittleEndian(record[40..]),
                    0,
                    (record[18] & MarkStale) != 0);
                return true;
            case LogRecordType.Delete:
                decoded = new LogRecord(type, sequence, record.Slice(HeaderSize, keyLength), default, 0, 0, 0, 0, 0);
                return true;
            case LogRecordType.Touch:
                decoded = new LogRecord(type, sequence, record.Slice(TouchFixedSize, keyLength), default, 0, BinaryPrimitives.ReadInt64LittleEndian(record[20..]), 0, 0, 0);
                return true;
            case LogRecordType.FlushAll:
                decoded = new LogRecord(type, sequence, default, default, 0, 0, BinaryPrimitives.ReadUInt64LittleEndian(record[20..]), 0, 0);
                return true;
            default:
                decoded = new LogRecord(type, sequence, default, default, 0, 0, 0, 0, BinaryPrimitives.ReadInt64LittleEndian(record[20..]));
                return true;
        }
    }

    /// <summary>Cheap checks on a record whose first <see cref="HeaderSize"/> bytes are at hand: type, key length and reserved bytes agree with the length.</summary>
    public static bool HasPlausibleShape(ReadOnlySpan<byte> record)
    {
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
        int keyLength = record[17];
        if (record[19] != 0 || (record[18] != 0 && ((LogRecordType)record[16] != LogRecordType.Set || record[18] > MarkStale)))
        {
            return false;
        }

        return (LogRecordType)record[16] switch
        {
            LogRecordType.Set => keyLength > 0 && length >= SetFixedSize + keyLength && length - SetFixedSize - keyLength <= MaxValueLength,
            LogRecordType.Delete => keyLength > 0 && length == HeaderSize + keyLength,
            LogRecordType.Touch => keyLength > 0 && length == TouchFixedSize + keyLength,
            LogRecordType.FlushAll or LogRecordType.FlushDelayed => keyLength == 0 && length == FlushSize,
            _ => false,
        };
    }

    public static ulong ReadSequence(ReadOnlySpan<byte> record) => BinaryPrimitives.ReadUInt64LittleEndian(record[8..]);

    public static void WriteSegmentHeader(Span<byte> header, ushort kind, ulong segmentId, ulong previousSequence, ulong highestCas)
    {
        header[..SegmentHeaderSize].Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[10..], kind);
        BinaryPrimitives.WriteUInt64LittleEndian(header[16..], segmentId);
        BinaryPrimitives.WriteUInt64LittleEndian(header[24..], previousSequence);
        BinaryPrimitives.WriteUInt64LittleEndian(header[32..], highestCas);
        BinaryPrimitives.WriteUInt32LittleEndian(header[44..], Crc32C.Compute(header[..44]));
    }

    public static bool TryReadSegmentHeader(ReadOnlySpan<byte> header, out SegmentHeader decoded, out string? problem)
    {
        decoded = default;
        if (header.Length < SegmentHeaderSize)
        {
            problem = "the file is shorter than a segment header";
            return false;
        }

        if (!header[..8].SequenceEqual(Magic))
        {
            problem = "the segment header's magic is not CAIRNLOG";
            return false;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(header[44..]) != Crc32C.Compute(header[..44]))
        {
            problem = "the segment header's checksum does not match";
            return false;
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            problem = $"the segment's format version is {version}; this build reads version {FormatVersion}";
            return false;
        }

        ushort kind = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]);
        if (kind is not (KindLog or KindSnapshot))
        {
            problem = $"unknown segment kind {kind}";
            return false;
        }

        decoded = new SegmentHeader(
            kind,
            BinaryPrimitives.ReadUInt64LittleEndian(header[16..]),
            BinaryPrimitives.ReadUInt64LittleEndian(header[24..]),
            BinaryPrimitives.ReadUInt64LittleEndian(header[32..]));
        problem = null;
        return true;
    }

    private static void WriteSetFixed(Span<byte> record, ulong sequence, ReadOnlySpan<byte> key, uint flags, long expiresAt, ulong cas, long storedAt, bool stale)
    {
        WriteHeader(record, record.Length, sequence, LogRecordType.Set, key.Length);
        record[18] = stale ? MarkStale : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(record[20..], flags);
        BinaryPrimitives.WriteInt64LittleEndian(record[24..], expiresAt);
        BinaryPrimitives.WriteUInt64LittleEndian(record[32..], cas);
        BinaryPrimitives.WriteInt64LittleEndian(record[40..], storedAt);
        key.CopyTo(record[SetFixedSize..]);
    }

    private static void WriteHeader(Span<byte> record, int length, ulong sequence, LogRecordType type, int keyLength)
    {
        // The CRC (bytes 0..4) is filled in by SealAll on the writer thread.
        BinaryPrimitives.WriteUInt32LittleEndian(record, 0);
        BinaryPrimitives.WriteInt32LittleEndian(record[4..], length);
        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], sequence);
        record[16] = (byte)type;
        record[17] = (byte)keyLength;
        record[18] = 0;
        record[19] = 0;
    }

    private static void ThrowBadKey(int length) =>
        throw new ArgumentOutOfRangeException(nameof(length), length, $"log keys are 1 to {MaxKeyLength} bytes");
}

internal readonly record struct SegmentHeader(ushort Kind, ulong SegmentId, ulong PreviousSequence, ulong HighestCas);

/// <summary>CRC-32C (Castagnoli) with the hardware instruction where there is one: 8-byte words, then the tail bytes.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(uint.MaxValue, data);

    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var words = MemoryMarshal.Cast<byte, ulong>(data);
        foreach (ulong word in words)
        {
            crc = BitOperations.Crc32C(crc, BitConverter.IsLittleEndian ? word : BinaryPrimitives.ReverseEndianness(word));
        }

        foreach (byte b in data[(words.Length * sizeof(ulong))..])
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}
