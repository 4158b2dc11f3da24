using System.Buffers;

namespace Cairn.Protocol.Text;

/// <summary>Formats memcached text replies straight into an output buffer, without strings.</summary>
public static class TextResponseWriter
{
    public static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        var span = output.GetSpan(bytes.Length);
        bytes.CopyTo(span);
        output.Advance(bytes.Length);
    }

    /// <summary>"VALUE key flags bytes [cas]\r\n" followed by the data and "\r\n".</summary>
    public static void WriteValue(IBufferWriter<byte> output, ReadOnlySpan<byte> key, uint flags, ReadOnlySpan<byte> value, ulong cas, bool withCas)
    {
        // 6 ("VALUE ") + key + 3 separators + 10 flags + 10 length + 20 cas + 2 CRLF.
        var headerMax = 6 + key.Length + 3 + 10 + 10 + 20 + 2;
        var span = output.GetSpan(headerMax);
        TextReplies.Value.CopyTo(span);
        var position = 6;
        key.CopyTo(span[position..]);
        position += key.Length;
        span[position++] = (byte)' ';
        position += AsciiNumber.FormatUInt64(flags, span[position..]);
        span[position++] = (byte)' ';
        position += AsciiNumber.FormatUInt64((ulong)value.Length, span[position..]);
        if (withCas)
        {
            span[position++] = (byte)' ';
            position += AsciiNumber.FormatUInt64(cas, span[position..]);
        }

        span[position++] = (byte)'\r';
        span[position++] = (byte)'\n';
        output.Advance(position);

        Write(output, value);
        Write(output, TextReplies.Crlf);
    }

    /// <summary>The reply to incr/decr: the new value and "\r\n".</summary>
    public static void WriteNumberLine(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(22);
        var length = AsciiNumber.FormatUInt64(value, span);
        span[length] = (byte)'\r';
        span[length + 1] = (byte)'\n';
        output.Advance(length + 2);
    }

    /// <summary>"STAT name value\r\n".</summary>
    public static void WriteStat(IBufferWriter<byte> output, ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        var length = 5 + name.Length + 1 + value.Length + 2;
        var span = output.GetSpan(length);
        TextReplies.Stat.CopyTo(span);
        name.CopyTo(span[5..]);
        span[5 + name.Length] = (byte)' ';
        value.CopyTo(span[(6 + name.Length)..]);
        span[length - 2] = (byte)'\r';
        span[length - 1] = (byte)'\n';
        output.Advance(length);
    }
}
