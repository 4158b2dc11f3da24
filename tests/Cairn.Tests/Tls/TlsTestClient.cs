using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Cairn.Tests.Tls;

/// <summary>An SslStream client that trusts only the test CA, as a real client would, and reads exact byte counts.</summary>
public sealed class TlsTestClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly Socket _socket;
    private readonly SslStream _stream;

    private TlsTestClient(Socket socket, SslStream stream)
    {
        _socket = socket;
        _stream = stream;
    }

    public static async Task<TlsTestClient> ConnectAsync(IPEndPoint endPoint, X509Certificate2 authority, X509Certificate2? clientCertificate = null)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(endPoint, timeout.Token);
        var stream = new SslStream(new NetworkStream(socket, ownsSocket: false));
        var trust = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        trust.CustomTrustStore.Add(authority);
        try
        {
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "localhost",
                    CertificateChainPolicy = trust,
                    ClientCertificates = clientCertificate is null ? null : [clientCertificate],
                },
                timeout.Token);
        }
        catch
        {
            await stream.DisposeAsync();
            socket.Dispose();
            throw;
        }

        return new TlsTestClient(socket, stream);
    }

    public async Task SendAsync(string text)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _stream.WriteAsync(Encoding.Latin1.GetBytes(text), timeout.Token);
        await _stream.FlushAsync(timeout.Token);
    }

    public async Task<string> ReadExactlyAsync(int count)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, timeout.Token);
        return Encoding.Latin1.GetString(buffer);
    }

    public async Task RoundTripAsync(string request, string expectedReply)
    {
        await SendAsync(request);
        Assert.Equal(expectedReply, await ReadExactlyAsync(Encoding.Latin1.GetByteCount(expectedReply)));
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
