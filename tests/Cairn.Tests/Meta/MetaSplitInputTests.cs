using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Meta;

/// <summary>Meta scripts give the same, exact replies however their bytes arrive.</summary>
public class MetaSplitInputTests
{
    public static TheoryData<string, string, string> Scripts => new()
    {
        {
            "get_set",
            "ms a 3 F5 T0 c\r\nabc\r\nmg a v f s c k Oop\r\nmg nope v q\r\nmn\r\n",
            "HD c1\r\nVA 3 f5 s3 c1 ka Oop\r\nabc\r\nMN\r\n"
        },
        {
            "modes_and_cas",
            "ms m 1 ME\r\nx\r\nms m 1 ME\r\ny\r\nms m 2 MA C1\r\nzz\r\nms m 1 C7\r\nq\r\nmg m v c\r\n",
            "HD\r\nNS\r\nHD\r\nEX\r\nVA 3 c2\r\nxzz\r\n"
        },
        {
            "errors_never_run_data",
            "ms e 2 zz\r\nmn\r\nms e 2\r\nhiX\r\nmg e Tx\r\nmd e Cx\r\nmn\r\n",
            "CLIENT_ERROR invalid flag\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nCLIENT_ERROR bad token in command line format\r\nCLIENT_ERROR invalid or duplicate flag\r\nMN\r\n"
        },
        {
            "stale_and_win",
            "ms s 1\r\na\r\nmd s I T30\r\nmg s v t\r\nmg s v\r\nmg w N10 s\r\nmg w s\r\n",
            "HD\r\nHD\r\nVA 1 t30 X W\r\na\r\nVA 1 Z X\r\na\r\nHD s0 W\r\nHD s0 Z\r\n"
        },
        {
            "arithmetic",
            "ma n N0 J9 v\r\nma n v\r\nma n MD D20 v c\r\nms t 1\r\nx\r\nma t\r\nme n\r\n",
            "VA 1\r\n9\r\nVA 2\r\n10\r\nVA 1 c3\r\n0\r\nHD\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\nME n exp=-1 la=0 cas=3 fetch=no cls=1 size=62\r\n"
        },
        {
            "base64",
            "ms AAEg 2 b k\r\nhi\r\nmg AAEg b v k\r\nmd AAEg b q\r\nmg AAEg b\r\n",
            "HD kAAEg b\r\nVA 2 kAAEg b\r\nhi\r\nEN\r\n"
        },
    };

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Whole_script_gives_the_recorded_replies(string name, string script, string expected)
    {
        Assert.True(expected == Run(Encoding.Latin1.GetBytes(script), [script.Length]), name);
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Two_part_split_at_every_offset_gives_the_same_replies(string name, string script, string expected)
    {
        var bytes = Encoding.Latin1.GetBytes(script);
        for (var split = 1; split < bytes.Length; split++)
        {
            var actual = Run(bytes, [split, bytes.Length - split]);
            Assert.True(expected == actual, $"{name}: split at {split} gave\n{actual}\ninstead of\n{expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Byte_at_a_time_gives_the_same_replies(string name, string script, string expected)
    {
        var bytes = Encoding.Latin1.GetBytes(script);
        Assert.True(expected == Run(bytes, Enumerable.Repeat(1, bytes.Length).ToArray()), name);
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
