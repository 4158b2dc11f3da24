using System.Net.Sockets;

namespace Cairn.Cli.Connection;

/// <summary>
/// Buffered reads of CRLF-terminated lines and fixed-size data blocks from a socket. A returned slice stays
/// valid until the next read; the buffer grows when one line or block does not fit.
/// </summary>
internal sealed class ReplyReader(Socket socket, int initialSize = 64 * 1024)
{
    private byte[] _buffer = new byte[initialSize];
    private int _start;
    private int _end;

    /// <summary>True when bytes are already buffered (a reply we did not ask for, or the next pipelined one).</summary>
    public bool HasBufferedBytes => _end > _start;

    /// <summary>The next line without its CRLF.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadLineAsync(CancellationToken cancellation)
    {
        var searched = 0;
        while (true)
        {
            var window = _buffer.AsSpan(_start + searched, _end - _start - searched);
            var newline = window.IndexOf("\r\n"u8);
            if (newline >= 0)
            {
                var line = _buffer.AsMemory(_start, searched + newline);
                _start += searched + newline + 2;
                return line;
            }

            // Keep a trailing CR in view: its LF may arrive in the next read.
            searched = Math.Max(0, _end - _start - 1);
            await FillAsync(cancellation);
        }
    }

    /// <summary>A data block of <paramref name="length"/> bytes followed by CRLF, returned without the CRLF.</summary>
    public async ValueTask<ReadOnlyMemory<byte>> ReadBlockAsync(int length, CancellationToken cancellation)
    {
        while (_end - _start < length + 2)
        {
            await FillAsync(cancellation);
        }

        var block = _buffer.AsMemory(_start, length);
        var terminated = _buffer.AsSpan(_start + length, 2).SequenceEqual("\r\n"u8);
        _start += length + 2;
        return terminated ? block : throw new ServerReplyException("data block not terminated by CRLF");
    }

    private async ValueTask FillAsync(CancellationToken cancellation)
    {
        if (_start > 0 && _start == _end)
        {
            _start = _end = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        var read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellation);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end += read;
    }
}
