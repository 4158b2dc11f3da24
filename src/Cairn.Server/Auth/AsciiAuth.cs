using Cairn.Protocol.Text;

namespace Cairn.Server.Auth;

/// <summary>
/// memcached's -Y handshake (proto_text.c try_read_command_asciiauth): the first command must be
/// <c>set &lt;key&gt; &lt;flags&gt; &lt;exptime&gt; &lt;bytes&gt;</c> whose data is <c>user password</c>.
/// Key, flags and exptime are ignored, as memcached ignores them.
/// </summary>
public static class AsciiAuth
{
    public static ReadOnlySpan<byte> Unauthenticated => "CLIENT_ERROR unauthenticated\r\n"u8;

    public static ReadOnlySpan<byte> Failure => "CLIENT_ERROR authentication failure\r\n"u8;

    public static ReadOnlySpan<byte> BadFormat => "CLIENT_ERROR bad authentication token format\r\n"u8;

    public static ReadOnlySpan<byte> BadTermination => "CLIENT_ERROR bad command line termination\r\n"u8;

    /// <summary>memcached 1.6.45's answer to an auth "set" announcing more than <see cref="MaxTokenLength"/> bytes; nothing is skipped.</summary>
    public static ReadOnlySpan<byte> TokenTooLong => "CLIENT_ERROR auth token too long\r\n"u8;

    /// <summary>memcached 1.6.45's MAX_AUTH_REQ_LEN: the longest "user password" block it buffers.</summary>
    public const int MaxTokenLength = 16384;

    /// <summary>The declared data length when <paramref name="line"/> (without its newline) is such a set; else false.</summary>
    public static bool TryParseSetLine(ReadOnlySpan<byte> line, out uint length)
    {
        length = 0;
        var tokens = new TextTokens(line);
        return tokens.Count >= 6 && tokens[0].SequenceEqual("set"u8) && AsciiNumber.TryParseUInt32(tokens[4], out length);
    }

    /// <summary>Checks the <c>user password</c> data; the reply to send (STORED on success).</summary>
    public static ReadOnlySpan<byte> Check(ReadOnlySpan<byte> data, CredentialStore credentials, out bool authenticated, out bool attempted)
    {
        authenticated = false;
        attempted = false;
        var tokens = new TextTokens(data);
        if (tokens.Count < 3)
        {
            return BadFormat;
        }

        attempted = true;
        authenticated = credentials.Check(tokens[0], tokens[1]);
        return authenticated ? TextReplies.Stored : Failure;
    }
}
