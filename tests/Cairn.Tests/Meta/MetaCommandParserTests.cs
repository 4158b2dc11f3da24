using System.Text;
using Cairn.Protocol.Text;

namespace Cairn.Tests.Meta;

public class MetaCommandParserTests
{
    [Fact]
    public void Flags_with_tokens_are_parsed()
    {
        var line = Encoding.ASCII.GetBytes("ms key 12 T30 F7 C99 E100 MA N5 I q Oab");
        TextCommandParser.Parse(line, out var command);
        Assert.Equal(TextCommandKind.MetaSet, command.Kind);
        Assert.Equal("key", Encoding.ASCII.GetString(command.Key));
        Assert.Equal(12, command.ByteCount);
        Assert.Equal(30, command.Meta.Ttl);
        Assert.Equal(7u, command.Meta.ClientFlags);
        Assert.Equal(99ul, command.Meta.CompareCas);
        Assert.Equal(100ul, command.Meta.NewCas);
        Assert.Equal((byte)'A', command.Meta.Mode);
        Assert.Equal(5, command.Meta.VivifyTtl);
        Assert.True(command.Meta.Has('I'));
        Assert.True(command.Meta.Quiet);
        Assert.False(command.Meta.Has('k'));
        Assert.Equal("ab", Encoding.ASCII.GetString(command.Meta.Opaque));
    }

    [Fact]
    public void Arithmetic_defaults_to_a_delta_of_one()
    {
        TextCommandParser.Parse("ma n"u8, out var command);
        Assert.Equal(TextCommandKind.MetaArithmetic, command.Kind);
        Assert.Equal(1ul, command.Meta.Delta);
        Assert.Equal(0, command.Meta.Mode);
    }

    [Fact]
    public void Refused_ms_still_skips_its_data()
    {
        TextCommandParser.Parse("ms key 3 zz"u8, out var command);
        Assert.Equal(TextCommandKind.Invalid, command.Kind);
        Assert.Equal(5, command.SwallowLength);
        Assert.Equal("CLIENT_ERROR invalid flag\r\n", Encoding.ASCII.GetString(command.ErrorReply));
    }

    [Fact]
    public void Base64_key_is_decoded_into_the_scratch()
    {
        var scratch = new byte[MetaCommandParser.KeyScratchLength];
        TextCommandParser.Parse("mg AAEg b v"u8, scratch, out var command);
        Assert.Equal(TextCommandKind.MetaGet, command.Kind);
        Assert.Equal(new byte[] { 0, 1, 0x20 }, command.Key.ToArray());
    }

    [Fact]
    public void Control_characters_in_a_plain_key_are_refused()
    {
        // memcached 1.6.18 looks such a key up (EN); Cairn validates keys the same way for every command.
        TextCommandParser.Parse("mg a\u0001b v"u8, out var command);
        Assert.Equal("CLIENT_ERROR bad command line format\r\n", Encoding.ASCII.GetString(command.ErrorReply));
    }

    [Fact]
    public void Parsing_allocates_nothing()
    {
        var line = Encoding.ASCII.GetBytes("mg some-key v c f s t k Oopaque T30 N10 R5 q");
        var scratch = new byte[MetaCommandParser.KeyScratchLength];
        TextCommandParser.Parse(line, scratch, out _);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            TextCommandParser.Parse(line, scratch, out _);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
