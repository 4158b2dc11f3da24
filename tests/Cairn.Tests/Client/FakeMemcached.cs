using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cairn.Tests.Client;

/// <summary>A loopback listener standing in for a server: tests read exactly what the client sent and script replies.</summary>
public sealed class FakeMemcached : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly MemoryStream _pending = new();
    private Socket? _accepted;

    public FakeMemcached()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndPoint!).Port}";

    /// <summary>Reads exactly the bytes of <paramref name="expected"/> from the client and compares them.</summary>
    public async Task ExpectAsync(string expected)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        _accepted ??= await _listener.AcceptAsync(cts.Token);
        var count = Encoding.Latin1.GetByteCount(expected);
        var buffer = new byte[4096];
        while (_pending.Length < count)
        {
            var read = await _accepted.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.NotEqual(0, read);
            _pending.Write(buffer, 0, read);
        }

        var all = _pending.ToArray();
        _pending.SetLength(0);
        _pending.Write(all, count, all.Length - count);
        Assert.Equal(expected, Encoding.Latin1.GetString(all, 0, count));
    }

    public async Task ReplyAsync(string reply) => await _accepted!.SendAsync(Encoding.Latin1.GetBytes(reply), SocketFlags.None);

    public ValueTask DisposeAsync()
    {
        _accepted?.Dispose();
        _listener.Dispose();
        _pending.Dispose();
        return ValueTask.CompletedTask;
    }
}
