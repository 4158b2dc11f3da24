using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cairn.Tests.Support;

/// <summary>A raw socket client for asserting exact bytes on the wire; every read is bounded in time.</summary>
public sealed class TestClient : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly MemoryStream _pending = new();

    private TestClient(Socket socket)
    {
        _socket = socket;
    }

    public static async Task<TestClient> ConnectAsync(EndPoint endPoint)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await socket.ConnectAsync(endPoint, timeout.Token);
        return new TestClient(socket);
    }

    public Task SendAsync(string text) => SendAsync(Encoding.Latin1.GetBytes(text));

    public async Task SendAsync(byte[] bytes)
    {
        using var timeout = new CancellationTokenSource(DefaultTimeout);
        await _socket.SendAsync(bytes, SocketFlags.None, timeout.Token);
    }

    /// <summary>Reads exactly as many bytes as <paramref name="expected"/> has and compares them.</summary>
    public async Task ExpectAsync(string expected)
    {
        var actual = await ReadExactlyAsync(Encoding.Latin1.GetByteCount(expected));
        Assert.Equal(expected, Encoding.Latin1.GetString(actual));
    }

    /// <summary>Sends a request and checks the complete reply.</summary>
    public async Task RoundTripAsync(string request, string expectedReply)
    {
        await SendAsync(request);
        await ExpectAsync(expectedReply);
    }

    public async Task<byte[]> ReadExactlyAsync(int count, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        var buffer = new byte[64 * 1024];
        while (_pending.Length < count)
        {
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"expected {count} bytes, got {_pending.Length}: {Encoding.Latin1.GetString(_pending.ToArray())}");
            }

            if (read == 0)
            {
                throw new EndOfStreamException($"connection closed after {_pending.Length} of {count} bytes: {Encoding.Latin1.GetString(_pending.ToArray())}");
            }

            _pending.Write(buffer, 0, read);
        }

        var all = _pending.ToArray();
        _pending.SetLength(0);
        _pending.Write(all, count, all.Length - count);
        return all[..count];
    }

    public async Task<string> ReadLineAsync()
    {
        var line = new List<byte>();
        while (true)
        {
            var b = (await ReadExactlyAsync(1))[0];
            line.Add(b);
            if (b == '\n')
            {
                return Encoding.Latin1.GetString(line.ToArray());
            }
        }
    }

    /// <summary>Reads until the server closes the connection or is quiet for <paramref name="quiet"/>.</summary>
    public async Task<(byte[] Bytes, bool Closed)> ReadUntilQuietAsync(TimeSpan quiet)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var cts = new CancellationTokenSource(quiet);
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException)
            {
                return (TakePending(), false);
            }
            catch (SocketException)
            {
                return (TakePending(), true);
            }

            if (read == 0)
            {
                return (TakePending(), true);
            }

            _pending.Write(buffer, 0, read);
        }
    }

    /// <summary>True when the server has closed its side (reads return end of stream).</summary>
    public async Task<bool> IsClosedByServerAsync(TimeSpan within)
    {
        var (_, closed) = await ReadUntilQuietAsync(within);
        return closed;
    }

    private byte[] TakePending()
    {
        var bytes = _pending.ToArray();
        _pending.SetLength(0);
        return bytes;
    }

    public void Dispose()
    {
        _socket.Dispose();
        _pending.Dispose();
    }
}
