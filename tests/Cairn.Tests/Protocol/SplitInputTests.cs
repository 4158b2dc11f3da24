using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Protocol;

/// <summary>
/// Every script is answered identically however the bytes arrive: whole, split in two at every offset,
/// or one byte at a time. This is what keeps a connection in sync under real network fragmentation.
/// </summary>
public class SplitInputTests
{
    public static TheoryData<string, string> Scripts => new()
    {
        { "storage", "set a 5 0 3\r\nabc\r\nadd a 0 0 1\r\nx\r\nappend a 0 0 2\r\nde\r\nprepend a 0 0 1\r\n_\r\ngets a\r\ncas a 0 0 1 999\r\nz\r\nget a b\r\n" },
        { "arithmetic", "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\ndecr n 1\r\nincr n 18446744073709551615\r\nget n\r\nincr zz 1\r\n" },
        { "errors", "bogus\r\nset k 0 0 -1\r\nset k abc 0 1\r\nx\r\nget\r\nset k 0 0 2\r\nabcd\r\ndelete k 5\r\nincr k x\r\nget k\r\n" },
        { "noreply", "set q 0 0 1 noreply\r\n1\r\nincr q 1 noreply\r\ndelete nothing noreply\r\nget q\r\n" },
        { "lf_only", "set l 0 0 2\nhi\r\nget l\nversion\n" },
        { "data_with_crlf_inside", "set d 0 0 4\r\n\r\n\r\n\r\nget d\r\n" },
        { "too_large", "set big 0 0 1\r\nx\r\nset big 0 0 3000\r\n" + new string('v', 3000) + "\r\nget big\r\n" },
        { "quit", "get a\r\nquit\r\nget b\r\n" },
        { "flush_touch", "set t 0 0 1\r\nx\r\ntouch t 10\r\ngat 0 t\r\nflush_all\r\nget t\r\n" },
    };

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Two_part_split_at_every_offset_gives_the_same_replies(string name, string script)
    {
        var bytes = Encoding.Latin1.GetBytes(script);
        var expected = Run(bytes, [bytes.Length]);
        Assert.False(string.IsNullOrEmpty(expected), name);
        for (var split = 1; split < bytes.Length; split++)
        {
            var actual = Run(bytes, [split, bytes.Length - split]);
            Assert.True(expected == actual, $"{name}: split at {split} gave\n{actual}\ninstead of\n{expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Byte_at_a_time_gives_the_same_replies(string name, string script)
    {
        var bytes = Encoding.Latin1.GetBytes(script);
        var expected = Run(bytes, [bytes.Length]);
        var actual = Run(bytes, Enumerable.Repeat(1, bytes.Length).ToArray());
        Assert.True(expected == actual, name);
    }

    private static string Run(byte[] bytes, int[] chunkSizes)
    {
        using var driver = new SessionDriver(options => options.MaxItemSize = 2048);
        var offset = 0;
        foreach (var size in chunkSizes)
        {
            driver.Feed(bytes.AsSpan(offset, size));
            offset += size;
        }

        return Encoding.Latin1.GetString(driver.Output());
    }
}
