using System.Buffers;

namespace Cairn.Protocol.Text;

/// <summary>What an item contributes to a meta reply's returned flags.</summary>
public readonly record struct MetaItemFields(ulong Cas, uint ClientFlags, int Size, long TtlRemaining, bool HitBefore, long SecondsSinceAccess);

/// <summary>Writes meta replies: "<c>HD</c> flags*", "<c>VA</c> size flags*", returned flags in the request's order.</summary>
public static class MetaResponseWriter
{
    public static ReadOnlySpan<byte> Success => "HD"u8;
    public static ReadOnlySpan<byte> Value => "VA"u8;
    public static ReadOnlySpan<byte> Miss => "EN"u8;
    public static ReadOnlySpan<byte> NotFound => "NF"u8;
    public static ReadOnlySpan<byte> NotStored => "NS"u8;
    public static ReadOnlySpan<byte> Exists => "EX"u8;
    public static ReadOnlySpan<byte> NoOp => "MN\r\n"u8;

    /// <summary>Flags an item-less reply (EN, NF, NS, EX) still returns: the opaque and the key.</summary>
    public const string KeyAndOpaque = "Ok";

    /// <summary>
    /// The code, then "<paramref name="valueLength"/>" for VA, then each requested flag that
    /// <paramref name="returnable"/> allows, in request order; the line is not ended, so W/X/Z may follow.
    /// </summary>
    public static void WriteHeader(IBufferWriter<byte> output, ReadOnlySpan<byte> code, int valueLength, scoped in MetaFlags flags, ReadOnlySpan<byte> key, string returnable, in MetaItemFields item)
    {
        TextResponseWriter.Write(output, code);
        if (valueLength >= 0)
        {
            WriteByte(output, (byte)' ');
            WriteNumber(output, valueLength);
        }

        foreach (var token in new KeyEnumerator(flags.Tokens))
        {
            var flag = (char)token[0];
            if (!returnable.Contains(flag, StringComparison.Ordinal))
            {
                continue;
            }

            WriteByte(output, (byte)' ');
            WriteByte(output, (byte)flag);
            switch (flag)
            {
                case 'O':
                    TextResponseWriter.Write(output, flags.Opaque);
                    break;
                case 'k':
                    WriteKey(output, key, flags.Base64Key);
                    break;
                case 'c':
                    WriteNumber(output, item.Cas);
                    break;
                case 'f':
                    WriteNumber(output, item.ClientFlags);
                    break;
                case 's':
                    WriteNumber(output, item.Size);
                    break;
                case 't':
                    WriteNumber(output, item.TtlRemaining);
                    break;
                case 'h':
                    WriteByte(output, item.HitBefore ? (byte)'1' : (byte)'0');
                    break;
                case 'l':
                    WriteNumber(output, item.SecondsSinceAccess);
                    break;
                default:
                    break;
            }
        }
    }

    /// <summary>A whole reply line with no value: code, flags, "\r\n".</summary>
    public static void WriteLine(IBufferWriter<byte> output, ReadOnlySpan<byte> code, scoped in MetaFlags flags, ReadOnlySpan<byte> key, string returnable, in MetaItemFields item)
    {
        WriteHeader(output, code, -1, flags, key, returnable, item);
        TextResponseWriter.Write(output, TextReplies.Crlf);
    }

    /// <summary>The key as sent back; a binary key goes back in base64 followed by a b flag, as in memcached 1.6.45.</summary>
    public static void WriteKey(IBufferWriter<byte> output, ReadOnlySpan<byte> key, bool base64)
    {
        if (!base64)
        {
            TextResponseWriter.Write(output, key);
            return;
        }

        var span = output.GetSpan(MetaCommandParser.EncodedKeyLength(key.Length) + 2);
        var written = MetaCommandParser.EncodeKey(key, span);
        span[written++] = (byte)' ';
        span[written++] = (byte)'b';
        output.Advance(written);
    }

    public static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    public static void WriteNumber(IBufferWriter<byte> output, long value)
    {
        if (value < 0)
        {
            WriteByte(output, (byte)'-');
            WriteNumber(output, (ulong)(-value));
            return;
        }

        WriteNumber(output, (ulong)value);
    }

    public static void WriteNumber(IBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(20);
        output.Advance(AsciiNumber.FormatUInt64(value, span));
    }
}
