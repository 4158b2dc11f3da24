using System.Buffers.Binary;
using System.Text;
using Cairn.Protocol.Binary;
using Cairn.Tests.Support;

namespace Cairn.Tests.Binary;

/// <summary>Builds request frames and expected replies byte by byte, independently of the server's writer.</summary>
internal static class BinaryFrames
{
    public static byte[] Request(BinaryOpcode opcode, string key = "", byte[]? extras = null, string value = "", ulong cas = 0, uint opaque = 0) =>
        Request(opcode, Encoding.ASCII.GetBytes(key), extras ?? [], Encoding.ASCII.GetBytes(value), cas, opaque);

    public static byte[] Request(BinaryOpcode opcode, byte[] key, byte[] extras, byte[] value, ulong cas = 0, uint opaque = 0, byte magic = 0x80) =>
        Frame(magic, (byte)opcode, key, extras, value, 0, cas, opaque);

    public static byte[] Response(BinaryOpcode opcode, ushort status = 0, uint opaque = 0, ulong cas = 0, byte[]? extras = null, string key = "", string value = "") =>
        Frame(0x81, (byte)opcode, Encoding.ASCII.GetBytes(key), extras ?? [], Encoding.Latin1.GetBytes(value), status, cas, opaque);

    /// <summary>An error reply with memcached 1.6.18's words (recorded from it).</summary>
    public static byte[] Error(BinaryOpcode opcode, ushort status, uint opaque = 0) => Response(opcode, status, opaque, value: status switch
    {
        0x01 => "Not found",
        0x02 => "Data exists for key.",
        0x03 => "Too large.",
        0x04 => "Invalid arguments",
        0x05 => "Not stored.",
        0x06 => "Non-numeric server-side value for incr or decr",
        0x81 => "Unknown command",
        0x82 => "Out of memory",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    });

    public static byte[] Frame(byte magic, byte opcode, byte[] key, byte[] extras, byte[] value, ushort status, ulong cas, uint opaque)
    {
        var frame = new byte[24 + extras.Length + key.Length + value.Length];
        frame[0] = magic;
        frame[1] = opcode;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)key.Length);
        frame[4] = (byte)extras.Length;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(6), status);
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), (uint)(frame.Length - 24));
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), opaque);
        BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(16), cas);
        extras.CopyTo(frame, 24);
        key.CopyTo(frame, 24 + extras.Length);
        value.CopyTo(frame, 24 + extras.Length + key.Length);
        return frame;
    }

    public static byte[] StoreExtras(uint flags, uint exptime = 0)
    {
        var extras = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(extras, flags);
        BinaryPrimitives.WriteUInt32BigEndian(extras.AsSpan(4), exptime);
        return extras;
    }

    public static byte[] DeltaExtras(ulong delta, ulong initial, uint exptime)
    {
        var extras = new byte[20];
        BinaryPrimitives.WriteUInt64BigEndian(extras, delta);
        BinaryPrimitives.WriteUInt64BigEndian(extras.AsSpan(8), initial);
        BinaryPrimitives.WriteUInt32BigEndian(extras.AsSpan(16), exptime);
        return extras;
    }

    public static byte[] UInt32(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] UInt64(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    public static byte[] Concat(params byte[][] frames) => frames.SelectMany(frame => frame).ToArray();

    public static ulong CasOf(byte[] response) => BinaryPrimitives.ReadUInt64BigEndian(response.AsSpan(16));

    /// <summary>Reads one whole response (header, then its body).</summary>
    public static async Task<byte[]> ReadResponseAsync(this TestClient client)
    {
        var header = await client.ReadExactlyAsync(24);
        var body = await client.ReadExactlyAsync((int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8)));
        return [.. header, .. body];
    }

    /// <summary>
    /// Compares a response byte for byte; when <paramref name="withCas"/> the CAS field must be non-zero and
    /// is taken from the actual reply (its value is the store's to choose). Returns that CAS.
    /// </summary>
    public static ulong AssertResponse(byte[] expected, byte[] actual, bool withCas = false)
    {
        var cas = CasOf(actual);
        if (withCas)
        {
            Assert.NotEqual(0UL, cas);
            expected = (byte[])expected.Clone();
            BinaryPrimitives.WriteUInt64BigEndian(expected.AsSpan(16), cas);
        }

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        return cas;
    }
}
