using System.Text;
using Cairn.Protocol.Text;

namespace Cairn.Tests.Protocol;

public class TextCommandParserTests
{
    private static TextCommandKind KindOf(string line, out string error)
    {
        TextCommandParser.Parse(Encoding.Latin1.GetBytes(line), out var command);
        error = Encoding.Latin1.GetString(command.ErrorReply);
        return command.Kind;
    }

    [Theory]
    [InlineData("get a", TextCommandKind.Get)]
    [InlineData("gets a b c", TextCommandKind.Gets)]
    [InlineData("gat 10 a", TextCommandKind.Gat)]
    [InlineData("gats 10 a b", TextCommandKind.Gats)]
    [InlineData("set k 0 0 5", TextCommandKind.Set)]
    [InlineData("set k 0 0 5 noreply", TextCommandKind.Set)]
    [InlineData("add k 1 2 3", TextCommandKind.Add)]
    [InlineData("replace k 1 2 3", TextCommandKind.Replace)]
    [InlineData("append k 1 2 3", TextCommandKind.Append)]
    [InlineData("prepend k 1 2 3", TextCommandKind.Prepend)]
    [InlineData("cas k 1 2 3 99", TextCommandKind.Cas)]
    [InlineData("delete k", TextCommandKind.Delete)]
    [InlineData("delete k 0", TextCommandKind.Delete)]
    [InlineData("delete k noreply", TextCommandKind.Delete)]
    [InlineData("delete k 0 noreply", TextCommandKind.Delete)]
    [InlineData("incr k 1", TextCommandKind.Incr)]
    [InlineData("decr k 1 noreply", TextCommandKind.Decr)]
    [InlineData("touch k 10", TextCommandKind.Touch)]
    [InlineData("flush_all", TextCommandKind.FlushAll)]
    [InlineData("flush_all 10", TextCommandKind.FlushAll)]
    [InlineData("flush_all noreply", TextCommandKind.FlushAll)]
    [InlineData("version", TextCommandKind.Version)]
    [InlineData("verbosity 1", TextCommandKind.Verbosity)]
    [InlineData("quit", TextCommandKind.Quit)]
    [InlineData("stats", TextCommandKind.Stats)]
    [InlineData("stats settings", TextCommandKind.Stats)]
    [InlineData("cache_memlimit 100", TextCommandKind.CacheMemlimit)]
    [InlineData("shutdown", TextCommandKind.Shutdown)]
    [InlineData("GET a", TextCommandKind.Get)]
    [InlineData("Set k 0 0 1", TextCommandKind.Set)]
    [InlineData("set k 5", TextCommandKind.Set)]
    [InlineData("set k 5 noreply", TextCommandKind.Set)]
    [InlineData("get  a   b", TextCommandKind.Get)]
    public void Recognises_every_classic_command(string line, TextCommandKind expected)
    {
        Assert.Equal(expected, KindOf(line, out _));
    }

    [Theory]
    [InlineData("", "ERROR\r\n")]
    [InlineData("x", "ERROR\r\n")]
    [InlineData("bogus k", "ERROR\r\n")]
    [InlineData("get", "ERROR\r\n")]
    [InlineData("set k 0 0", "ERROR\r\n")]
    [InlineData("set k 0 0 5 6 7", "ERROR\r\n")]
    [InlineData("cas k 0 0 5", "ERROR\r\n")]
    [InlineData("incr k", "ERROR\r\n")]
    [InlineData("delete", "ERROR\r\n")]
    [InlineData("set k abc 0 5", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("set k -1 0 5", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("set k 0 x 5", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("set k 0 0 -1", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("set k 0 0 x", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("cas k 0 0 1 x", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("delete k 1", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n")]
    [InlineData("incr k x", "CLIENT_ERROR invalid numeric delta argument\r\n")]
    [InlineData("incr k -1", "CLIENT_ERROR invalid numeric delta argument\r\n")]
    [InlineData("touch k x", "CLIENT_ERROR invalid exptime argument\r\n")]
    [InlineData("gat x k", "CLIENT_ERROR invalid exptime argument\r\n")]
    [InlineData("flush_all x", "CLIENT_ERROR invalid exptime argument\r\n")]
    [InlineData("verbosity x", "CLIENT_ERROR bad command line format\r\n")]
    [InlineData("cache_memlimit x", "ERROR\r\n")]
    [InlineData("replace k 5", "ERROR\r\n")]
    [InlineData("cas k 5", "ERROR\r\n")]
    [InlineData("set k 4294967296 0 1", "CLIENT_ERROR bad command line format\r\n")]
    public void Refuses_bad_lines_in_memcached_words(string line, string expectedReply)
    {
        Assert.Equal(TextCommandKind.Invalid, KindOf(line, out var error));
        Assert.Equal(expectedReply, error);
    }

    [Fact]
    public void Key_of_250_bytes_is_accepted_and_251_refused()
    {
        Assert.Equal(TextCommandKind.Delete, KindOf("delete " + new string('k', 250), out _));
        Assert.Equal(TextCommandKind.Invalid, KindOf("delete " + new string('k', 251), out var error));
        Assert.Equal("CLIENT_ERROR bad command line format\r\n", error);
    }

    [Theory]
    [InlineData("set a\u0001b 0 0 1")]
    [InlineData("set a\tb 0 0 1")]
    [InlineData("incr a\u007fb 1")]
    public void Keys_with_control_characters_are_refused(string line)
    {
        Assert.Equal(TextCommandKind.Invalid, KindOf(line, out var error));
        Assert.Equal("CLIENT_ERROR bad command line format\r\n", error);
    }

    [Fact]
    public void Refused_storage_line_with_a_valid_length_swallows_its_data_block()
    {
        TextCommandParser.Parse(Encoding.ASCII.GetBytes("set " + new string('k', 251) + " 0 0 5"), out var command);
        Assert.Equal(TextCommandKind.Invalid, command.Kind);
        Assert.Equal(7, command.SwallowLength);

        TextCommandParser.Parse("set k 0 0 -5"u8, out var negative);
        Assert.Equal(0, negative.SwallowLength);
    }

    [Fact]
    public void Storage_fields_are_parsed()
    {
        TextCommandParser.Parse("cas key 4294967295 -1 12 18446744073709551615 noreply"u8, out var command);
        Assert.Equal(TextCommandKind.Cas, command.Kind);
        Assert.Equal("key", Encoding.ASCII.GetString(command.Key));
        Assert.Equal(uint.MaxValue, command.Flags);
        Assert.Equal(-1, command.Exptime);
        Assert.Equal(12, command.ByteCount);
        Assert.Equal(ulong.MaxValue, command.CasUnique);
        Assert.True(command.NoReply);
    }

    [Fact]
    public void Short_set_form_means_flags_zero_and_no_expiry()
    {
        TextCommandParser.Parse("set make 4"u8, out var command);
        Assert.Equal(TextCommandKind.Set, command.Kind);
        Assert.Equal(0u, command.Flags);
        Assert.Equal(0, command.Exptime);
        Assert.Equal(4, command.ByteCount);
    }

    [Fact]
    public void Multi_get_keys_are_enumerated_past_the_token_limit()
    {
        var keys = Enumerable.Range(0, 100).Select(i => $"key{i}").ToArray();
        TextCommandParser.Parse(Encoding.ASCII.GetBytes("get " + string.Join("  ", keys)), out var command);
        var seen = new List<string>();
        foreach (var key in command.EnumerateKeys())
        {
            seen.Add(Encoding.ASCII.GetString(key));
        }

        Assert.Equal(keys, seen);
    }

    [Fact]
    public void Noreply_is_only_the_exact_lower_case_word()
    {
        TextCommandParser.Parse("set k 0 0 1 NOREPLY"u8, out var upper);
        Assert.False(upper.NoReply);
        TextCommandParser.Parse("set k 0 0 1 noreply"u8, out var lower);
        Assert.True(lower.NoReply);
    }

    [Fact]
    public void Flush_all_with_delay_and_noreply()
    {
        TextCommandParser.Parse("flush_all 30 noreply"u8, out var command);
        Assert.Equal(TextCommandKind.FlushAll, command.Kind);
        Assert.True(command.HasArgument);
        Assert.Equal(30, command.Exptime);
        Assert.True(command.NoReply);
    }

    [Fact]
    public void Tokenizer_splits_on_spaces_only_and_counts_the_terminal_token()
    {
        var tokens = new TextTokens("  a\tb   c "u8);
        Assert.Equal(2, tokens.RealCount);
        Assert.Equal(3, tokens.Count);
        Assert.Equal("a\tb", Encoding.ASCII.GetString(tokens[0]));
        Assert.Equal("c", Encoding.ASCII.GetString(tokens[1]));
    }
}
