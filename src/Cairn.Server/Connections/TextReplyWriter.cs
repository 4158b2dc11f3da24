using System.Buffers;
using System.Text;
using Cairn.Protocol.Text;

namespace Cairn.Server.Connections;

/// <summary>The two reply shapes every text executor uses: a reply a noreply command suppresses, and a SERVER_ERROR line.</summary>
public static class TextReplyWriter
{
    public static void ServerError(IBufferWriter<byte> output, string reason)
    {
        TextResponseWriter.Write(output, TextReplies.ServerErrorPrefix);

        // A reason from the OS must not break the reply line.
        TextResponseWriter.Write(output, Encoding.ASCII.GetBytes(reason.ReplaceLineEndings(" ")));
        TextResponseWriter.Write(output, TextReplies.Crlf);
    }

    public static void Reply(IBufferWriter<byte> output, ReadOnlySpan<byte> reply, bool noReply)
    {
        if (!noReply)
        {
            TextResponseWriter.Write(output, reply);
        }
    }
}
