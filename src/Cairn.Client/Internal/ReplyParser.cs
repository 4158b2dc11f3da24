using System.Buffers.Text;

namespace Cairn.Client.Internal;

/// <summary>Finds where one reply ends in the bytes received so far; pure, so tests can split input anywhere.</summary>
internal static class ReplyParser
{
    /// <summary>Returns the bytes one complete reply takes (and the reply), or 0 when more bytes are needed.</summary>
    public static int TryParse(ReadOnlySpan<byte> input, ReplyShape shape, out Reply? reply)
    {
        reply = null;
        var lineEnd = input.IndexOf("\r\n"u8);
        if (lineEnd < 0)
        {
            return 0;
        }

        var line = input[..lineEnd];
        var afterLine = lineEnd + 2;
        var isError = line.StartsWith("ERROR"u8) || line.StartsWith("CLIENT_ERROR"u8) || line.StartsWith("SERVER_ERROR"u8);
        if (isError || shape == ReplyShape.Line)
        {
            reply = new Reply(Reply.Ascii(line), null, null);
            return afterLine;
        }

        if (shape == ReplyShape.Meta)
        {
            if (!line.StartsWith("VA "u8))
            {
                reply = new Reply(Reply.Ascii(line), null, null);
                return afterLine;
            }

            var sizeText = line[3..];
            var space = sizeText.IndexOf((byte)' ');
            if (space >= 0)
            {
                sizeText = sizeText[..space];
            }

            if (!Utf8Parser.TryParse(sizeText, out int size, out var used) || used != sizeText.Length || size < 0)
            {
                throw new CairnProtocolException("bad VA line: " + Reply.Ascii(line));
            }

            if (input.Length < afterLine + size + 2)
            {
                return 0;
            }

            reply = new Reply(Reply.Ascii(line), input.Slice(afterLine, size).ToArray(), null);
            return afterLine + size + 2;
        }

        // Stats: STAT lines until END.
        var lines = new List<string>();
        var position = 0;
        while (true)
        {
            var rest = input[position..];
            var end = rest.IndexOf("\r\n"u8);
            if (end < 0)
            {
                return 0;
            }

            var current = rest[..end];
            position += end + 2;
            if (current.SequenceEqual("END"u8))
            {
                reply = new Reply("END", null, lines);
                return position;
            }

            lines.Add(Reply.Ascii(current));
        }
    }
}
