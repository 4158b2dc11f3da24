using System.Text;

namespace Cairn.Client.Internal;

/// <summary>How the reader knows where a reply ends.</summary>
internal enum ReplyShape
{
    /// <summary>A meta reply: one line, plus a data block when it starts with <c>VA</c>.</summary>
    Meta,

    /// <summary>One line (<c>OK</c>).</summary>
    Line,

    /// <summary>Lines up to <c>END</c> (stats).</summary>
    UntilEnd,
}

/// <summary>One reply: its first line split into tokens, and the data block or further lines.</summary>
internal sealed class Reply
{
    public Reply(string line, byte[]? data, List<string>? lines)
    {
        Line = line;
        Tokens = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Data = data;
        Lines = lines;
    }

    public string Line { get; }

    public string[] Tokens { get; }

    public string Code => Tokens.Length > 0 ? Tokens[0] : string.Empty;

    public byte[]? Data { get; }

    public List<string>? Lines { get; }

    /// <summary>The value of a returned meta flag (<c>f</c>, <c>c</c>), or null.</summary>
    public string? Flag(char flag)
    {
        for (var i = 1; i < Tokens.Length; i++)
        {
            if (Tokens[i].Length > 0 && Tokens[i][0] == flag)
            {
                return Tokens[i][1..];
            }
        }

        return null;
    }

    public bool IsError => Code is "ERROR" or "CLIENT_ERROR" or "SERVER_ERROR";

    public static string Ascii(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);
}

/// <summary>A request waiting for its reply; replies arrive in the order requests were written.</summary>
internal sealed class PendingRequest
{
    public PendingRequest(byte[] payload, ReplyShape shape)
    {
        Payload = payload;
        Shape = shape;
    }

    public byte[] Payload { get; }

    public ReplyShape Shape { get; }

    public TaskCompletionSource<Reply> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
