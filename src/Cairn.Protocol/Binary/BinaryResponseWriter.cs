using System.Buffers;
using System.Buffers.Binary;

namespace Cairn.Protocol.Binary;

/// <summary>Writes binary responses straight into the connection's output: header, extras, key, value.</summary>
public static class BinaryResponseWriter
{
    public static void Write(
        IBufferWriter<byte> output,
        BinaryOpcode opcode,
        BinaryStatus status,
        uint opaque,
        ulong cas,
        scoped ReadOnlySpan<byte> extras,
        scoped ReadOnlySpan<byte> key,
        scoped ReadOnlySpan<byte> value)
    {
        var bodyLength = extras.Length + key.Length + value.Length;
        var span = output.GetSpan(BinaryHeader.Size + bodyLength);
        span[0] = BinaryHeader.ResponseMagic;
        span[1] = (byte)opcode;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)key.Length);
        span[4] = (byte)extras.Length;
        span[5] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(span[6..], (ushort)status);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)bodyLength);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], opaque);
        BinaryPrimitives.WriteUInt64BigEndian(span[16..], cas);
        var at = BinaryHeader.Size;
        extras.CopyTo(span[at..]);
        at += extras.Length;
        key.CopyTo(span[at..]);
        at += key.Length;
        value.CopyTo(span[at..]);
        output.Advance(BinaryHeader.Size + bodyLength);
    }

    /// <summary>A success with no body (set, delete, flush, noop...).</summary>
    public static void WriteEmpty(IBufferWriter<byte> output, BinaryOpcode opcode, uint opaque, ulong cas = 0) =>
        Write(output, opcode, BinaryStatus.NoError, opaque, cas, default, default, default);

    /// <summary>An error with memcached's words as its body.</summary>
    public static void WriteError(IBufferWriter<byte> output, BinaryOpcode opcode, BinaryStatus status, uint opaque) =>
        Write(output, opcode, status, opaque, 0, default, default, BinaryStatusMessages.For(status));

    /// <summary>An error with a body of the caller's (getk's miss carries the key; a refused log write its reason).</summary>
    public static void WriteError(IBufferWriter<byte> output, BinaryOpcode opcode, BinaryStatus status, uint opaque, scoped ReadOnlySpan<byte> key, scoped ReadOnlySpan<byte> message) =>
        Write(output, opcode, status, opaque, 0, default, key, message);

    /// <summary>A get hit: four bytes of flags as extras, the key for getk/gatk, then the value.</summary>
    public static void WriteItem(IBufferWriter<byte> output, BinaryOpcode opcode, uint opaque, ulong cas, uint flags, scoped ReadOnlySpan<byte> key, scoped ReadOnlySpan<byte> value)
    {
        Span<byte> extras = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(extras, flags);
        Write(output, opcode, BinaryStatus.NoError, opaque, cas, extras, key, value);
    }

    /// <summary>incr/decr: the new value as eight big-endian bytes.</summary>
    public static void WriteCounter(IBufferWriter<byte> output, BinaryOpcode opcode, uint opaque, ulong cas, ulong value)
    {
        Span<byte> body = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(body, value);
        Write(output, opcode, BinaryStatus.NoError, opaque, cas, default, default, body);
    }

    /// <summary>One stat as key and value; an empty key and value end the list.</summary>
    public static void WriteStat(IBufferWriter<byte> output, uint opaque, scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> value) =>
        Write(output, BinaryOpcode.Stat, BinaryStatus.NoError, opaque, 0, default, name, value);
}
