using System.Text;
using Cairn.Protocol.Text;

namespace Cairn.Tests.Protocol;

public class AsciiNumberTests
{
    [Theory]
    [InlineData("0", 0u)]
    [InlineData("4294967295", 4294967295u)]
    [InlineData("+7", 7u)]
    [InlineData("-0", 0u)]
    public void UInt32_accepts_what_safe_strtoul_accepts(string text, uint expected)
    {
        Assert.True(AsciiNumber.TryParseUInt32(Encoding.ASCII.GetBytes(text), out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("4294967296")]
    [InlineData("12abc")]
    [InlineData("abc")]
    [InlineData("1 2")]
    [InlineData("99999999999999999999999")]
    public void UInt32_refuses_what_safe_strtoul_refuses(string text)
    {
        Assert.False(AsciiNumber.TryParseUInt32(Encoding.ASCII.GetBytes(text), out _));
    }

    [Theory]
    [InlineData("-1", -1)]
    [InlineData("2147483647", int.MaxValue)]
    [InlineData("-2147483648", int.MinValue)]
    [InlineData("\t5", 5)]
    public void Int32_accepts_signed_values(string text, int expected)
    {
        Assert.True(AsciiNumber.TryParseInt32(Encoding.ASCII.GetBytes(text), out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("2147483648")]
    [InlineData("-2147483649")]
    [InlineData("5x")]
    [InlineData("-")]
    public void Int32_refuses_out_of_range_or_garbage(string text)
    {
        Assert.False(AsciiNumber.TryParseInt32(Encoding.ASCII.GetBytes(text), out _));
    }

    [Fact]
    public void UInt64_takes_the_full_range_and_refuses_overflow()
    {
        Assert.True(AsciiNumber.TryParseUInt64("18446744073709551615"u8, out var max));
        Assert.Equal(ulong.MaxValue, max);
        Assert.False(AsciiNumber.TryParseUInt64("18446744073709551616"u8, out _));
        Assert.False(AsciiNumber.TryParseUInt64("-5"u8, out _));
    }

    [Theory]
    [InlineData(0ul, "0")]
    [InlineData(18446744073709551615ul, "18446744073709551615")]
    [InlineData(1234567890ul, "1234567890")]
    public void Format_writes_decimal_digits(ulong value, string expected)
    {
        var buffer = new byte[20];
        var length = AsciiNumber.FormatUInt64(value, buffer);
        Assert.Equal(expected, Encoding.ASCII.GetString(buffer, 0, length));
    }
}
