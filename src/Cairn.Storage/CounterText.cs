using System.Buffers.Text;

namespace Cairn.Storage;

/// <summary>The decimal text incr/decr read and write, with memcached's parsing rules.</summary>
internal static class CounterText
{
    /// <summary>Digits of 2^64-1.</summary>
    public const int MaxDigits = 20;

    /// <summary>
    /// memcached's safe_strtoull over the stored bytes: strtoull skips leading C whitespace and takes
    /// an optional sign, then the digits must be followed by whitespace or the end of the value
    /// (memcached's stored "\r\n" is whitespace, so the end counts). Unlike strtoull, any '-' is
    /// refused: memcached only notices it when the wrapped result looks negative, which lets "-0"
    /// through; nobody depends on that.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out ulong value)
    {
        value = 0;
        int i = 0;
        while (i < text.Length && IsCSpace(text[i]))
        {
            i++;
        }

        if (i < text.Length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
        {
            if (text[i] == (byte)'-')
            {
                return false;
            }

            i++;
        }

        int digitsStart = i;
        ulong result = 0;
        for (; i < text.Length; i++)
        {
            uint digit = (uint)(text[i] - '0');
            if (digit > 9)
            {
                break;
            }

            // strtoull reports ERANGE past 2^64-1 and safe_strtoull turns that into "not a number".
            if (result > (ulong.MaxValue - digit) / 10)
            {
                return false;
            }

            result = (result * 10) + digit;
        }

        if (i == digitsStart)
        {
            return false;
        }

        // A NUL ends a C string, so memcached accepts digits followed by one as well.
        if (i < text.Length && !IsCSpace(text[i]) && text[i] != 0)
        {
            return false;
        }

        value = result;
        return true;
    }

    public static int Format(ulong value, Span<byte> destination)
    {
        Utf8Formatter.TryFormat(value, destination, out int written);
        return written;
    }

    /// <summary>C's isspace in the "C" locale.</summary>
    private static bool IsCSpace(byte b) => b == (byte)' ' || (uint)(b - '\t') <= '\r' - '\t';
}
