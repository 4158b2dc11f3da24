using System.Net.Sockets;
using System.Text;

namespace Cairn.Cli.Connection;

/// <summary>One text-protocol connection for the one-shot commands and the interactive shell.</summary>
internal sealed class ServerConnection : IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    // Generous, because `compact` answers only when the log has been rewritten.
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromMinutes(5);

    private readonly Socket _socket;
    private readonly ReplyReader _reader;
    private CancellationTokenSource _timeout = new();

    private ServerConnection(Socket socket)
    {
        _socket = socket;
        _reader = new ReplyReader(socket);
    }

    public static async Task<ServerConnection> ConnectAsync(ServerAddress address)
    {
        using var timeout = new CancellationTokenSource(ConnectTimeout);
        var endPoint = await address.ResolveAsync(timeout.Token);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, timeout.Token);
            return new ServerConnection(socket);
        }
        catch (Exception error) when (error is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            var reason = error is OperationCanceledException ? "timed out" : error.Message;
            throw new ServerUnreachableException($"cannot connect to {address}: {reason}", error);
        }
    }

    /// <summary>True when the server sent bytes nobody asked for: the stream is out of step.</summary>
    public bool HasUnreadBytes => _reader.HasBufferedBytes || _socket.Available > 0;

    public Task SendAsync(string text) => SendAsync(Encoding.UTF8.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            await _socket.SendAsync(bytes, SocketFlags.None, Token());
        }
        catch (Exception error) when (error is SocketException or IOException or OperationCanceledException)
        {
            throw Lost(error);
        }
    }

    public async Task<string> ReadLineAsync()
    {
        try
        {
            var line = await _reader.ReadLineAsync(Token());
            return Encoding.UTF8.GetString(line.Span);
        }
        catch (Exception error) when (error is SocketException or IOException or OperationCanceledException)
        {
            throw Lost(error);
        }
    }

    public async Task<byte[]> ReadBlockAsync(int length)
    {
        try
        {
            var block = await _reader.ReadBlockAsync(length, Token());
            return block.ToArray();
        }
        catch (Exception error) when (error is SocketException or IOException or OperationCanceledException)
        {
            throw Lost(error);
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _timeout.Dispose();
    }

    private static ServerUnreachableException Lost(Exception error) => error is OperationCanceledException
        ? new ServerUnreachableException("the server did not answer in time", error)
        : new ServerUnreachableException($"connection lost: {error.Message}", error);

    private CancellationToken Token()
    {
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource();
        }

        _timeout.CancelAfter(ReplyTimeout);
        return _timeout.Token;
    }
}
