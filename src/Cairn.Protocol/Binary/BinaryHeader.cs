using System.Buffers;
using System.Buffers.Binary;

namespace Cairn.Protocol.Binary;

/// <summary>What a request header asks of the connection before its body is read.</summary>
public enum FrameCheck
{
    /// <summary>Well formed for its opcode (or an unknown opcode, whose body is skipped).</summary>
    Valid,

    /// <summary>Not a request magic: memcached closes without a reply.</summary>
    BadMagic,

    /// <summary>Key and extras longer than the body: memcached answers "Unknown command" and closes.</summary>
    BodyTooShort,

    /// <summary>Wrong extras or key length for the opcode, or a key over 250: "Invalid arguments", then close.</summary>
    InvalidArguments,

    /// <summary>memcached answers a malformed verbosity as an unknown command and stays in sync.</summary>
    UnknownCommand,
}

/// <summary>The 24-byte binary request header, big-endian on the wire.</summary>
public readonly struct BinaryHeader
{
    public const int Size = 24;
    public const byte RequestMagic = 0x80;
    public const byte ResponseMagic = 0x81;

    /// <summary>memcached's KEY_MAX_LENGTH.</summary>
    public const int MaxKeyLength = 250;

    public BinaryHeader(ReadOnlySpan<byte> header)
    {
        Magic = header[0];
        Opcode = (BinaryOpcode)header[1];
        KeyLength = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        ExtrasLength = header[4];
        DataType = header[5];
        VBucket = BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
        TotalBodyLength = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        Opaque = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        Cas = BinaryPrimitives.ReadUInt64BigEndian(header[16..]);
    }

    public byte Magic { get; }
    public BinaryOpcode Opcode { get; }
    public ushort KeyLength { get; }
    public byte ExtrasLength { get; }
    public byte DataType { get; }
    public ushort VBucket { get; }
    public uint TotalBodyLength { get; }
    public uint Opaque { get; }
    public ulong Cas { get; }

    /// <summary>Body bytes after the extras and key: the value of a storage request.</summary>
    public long ValueLength => (long)TotalBodyLength - KeyLength - ExtrasLength;

    /// <summary>Reads a header from the start of <paramref name="buffer"/>; false when fewer than 24 bytes have arrived.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> buffer, out BinaryHeader header)
    {
        if (buffer.Length < Size)
        {
            header = default;
            return false;
        }

        var first = buffer.FirstSpan;
        if (first.Length >= Size)
        {
            header = new BinaryHeader(first);
            return true;
        }

        Span<byte> copy = stackalloc byte[Size];
        buffer.Slice(0, Size).CopyTo(copy);
        header = new BinaryHeader(copy);
        return true;
    }

    /// <summary>memcached 1.6's per-opcode checks (proto_bin.c dispatch_bin_command), in its order.</summary>
    public FrameCheck Check()
    {
        if (Magic != RequestMagic)
        {
            return FrameCheck.BadMagic;
        }

        if ((long)KeyLength + ExtrasLength > TotalBodyLength)
        {
            return FrameCheck.BodyTooShort;
        }

        if (KeyLength > MaxKeyLength)
        {
            return FrameCheck.InvalidArguments;
        }

        var body = TotalBodyLength;
        var keyed = KeyLength > 0;
        var ok = Opcode switch
        {
            BinaryOpcode.Get or BinaryOpcode.GetQ or BinaryOpcode.GetK or BinaryOpcode.GetKQ
                or BinaryOpcode.Delete or BinaryOpcode.DeleteQ =>
                ExtrasLength == 0 && keyed && body == KeyLength,
            BinaryOpcode.Set or BinaryOpcode.SetQ or BinaryOpcode.Add or BinaryOpcode.AddQ
                or BinaryOpcode.Replace or BinaryOpcode.ReplaceQ =>
                ExtrasLength == 8 && keyed,
            BinaryOpcode.Append or BinaryOpcode.AppendQ or BinaryOpcode.Prepend or BinaryOpcode.PrependQ =>
                ExtrasLength == 0 && keyed,
            BinaryOpcode.Increment or BinaryOpcode.IncrementQ or BinaryOpcode.Decrement or BinaryOpcode.DecrementQ =>
                ExtrasLength == 20 && keyed && body == KeyLength + 20u,
            BinaryOpcode.Quit or BinaryOpcode.QuitQ or BinaryOpcode.Noop or BinaryOpcode.Version =>
                body == 0,
            BinaryOpcode.Flush or BinaryOpcode.FlushQ =>
                KeyLength == 0 && ExtrasLength is 0 or 4 && body == ExtrasLength,
            BinaryOpcode.Stat =>
                ExtrasLength == 0 && body == KeyLength,
            BinaryOpcode.Touch or BinaryOpcode.Gat or BinaryOpcode.GatQ or BinaryOpcode.GatK or BinaryOpcode.GatKQ =>
                ExtrasLength == 4 && keyed && body == KeyLength + 4u,
            _ => true,
        };

        if (!ok)
        {
            return FrameCheck.InvalidArguments;
        }

        if (Opcode == BinaryOpcode.Verbosity && !(ExtrasLength == 4 && KeyLength == 0 && body == 4))
        {
            return FrameCheck.UnknownCommand;
        }

        return FrameCheck.Valid;
    }
}
