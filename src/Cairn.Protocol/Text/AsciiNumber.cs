namespace Cairn.Protocol.Text;

/// <summary>
/// Number parsing with exactly the acceptance rules of memcached's safe_strtoul / safe_strtol /
/// safe_strtoull (strtoul semantics: leading whitespace, an optional sign, decimal digits, nothing after),
/// so Cairn accepts and refuses the same command lines memcached does.
/// </summary>
public static class AsciiNumber
{
    /// <summary>safe_strtoull: unsigned 64-bit; a '-' is only refused when the result would look negative.</summary>
    public static bool TryParseUInt64(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        if (!TryParseMagnitude(text, out var magnitude, out var negative, out var consumedAll))
        {
            return false;
        }

        if (!consumedAll)
        {
            return false;
        }

        var result = negative ? unchecked(0UL - magnitude) : magnitude;
        if ((long)result < 0 && negative)
        {
            return false;
        }

        value = result;
        return true;
    }

    /// <summary>safe_strtoul for 32-bit fields such as client flags: refuses values above 2^32-1 and negatives.</summary>
    public static bool TryParseUInt32(ReadOnlySpan<byte> text, out uint value)
    {
        value = 0;
        if (!TryParseUInt64(text, out var wide) || wide > uint.MaxValue)
        {
            return false;
        }

        value = (uint)wide;
        return true;
    }

    /// <summary>safe_strtol: signed 32-bit, as memcached parses exptime and the data length.</summary>
    public static bool TryParseInt32(ReadOnlySpan<byte> text, out int value)
    {
        value = 0;
        if (!TryParseMagnitude(text, out var magnitude, out var negative, out var consumedAll) || !consumedAll)
        {
            return false;
        }

        if (negative)
        {
            if (magnitude > 2147483648UL)
            {
                return false;
            }

            value = (int)(0L - (long)magnitude);
            return true;
        }

        if (magnitude > int.MaxValue)
        {
            return false;
        }

        value = (int)magnitude;
        return true;
    }

    private static bool TryParseMagnitude(ReadOnlySpan<byte> text, out ulong magnitude, out bool negative, out bool consumedAll)
    {
        magnitude = 0;
        negative = false;
        consumedAll = false;
        var i = 0;
        while (i < text.Length && IsSpace(text[i]))
        {
            i++;
        }

        if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
        {
            negative = text[i] == (byte)'-';
            i++;
        }

        var start = i;
        while (i < text.Length && IsDigit(text[i]))
        {
            var digit = (ulong)(text[i] - (byte)'0');
            if (magnitude > (ulong.MaxValue - digit) / 10)
            {
                // strtoul reports ERANGE, which every safe_strto* refuses.
                return false;
            }

            magnitude = (magnitude * 10) + digit;
            i++;
        }

        if (i == start)
        {
            return false;
        }

        consumedAll = i == text.Length;
        return true;
    }

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool IsSpace(byte b) => b == ' ' || (b >= '\t' && b <= '\r');

    /// <summary>Writes the decimal digits of <paramref name="value"/> and returns how many were written.</summary>
    public static int FormatUInt64(ulong value, Span<byte> destination)
    {
        Span<byte> scratch = stackalloc byte[20];
        var position = scratch.Length;
        do
        {
            var digit = value % 10;
            value /= 10;
            scratch[--position] = (byte)('0' + digit);
        }
        while (value != 0);

        var length = scratch.Length - position;
        scratch[position..].CopyTo(destination);
        return length;
    }
}
