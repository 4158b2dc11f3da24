using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Cairn.Server.Hosting;
using Cairn.Server.Tls;
using Cairn.Tests.Support;

namespace Cairn.Tests.Tls;

/// <summary>-Z: the memcached protocol inside TLS, byte for byte, beside plain notls: listeners.</summary>
public sealed class TlsListenerTests : IDisposable
{
    private readonly TestCertificates _certificates = TestCertificates.Create();

    private void EnableTls(ServerOptions options)
    {
        options.Tls.Enabled = true;
        options.Tls.ChainCertificatePath = _certificates.ServerChainPath;
        options.Tls.KeyPath = _certificates.ServerKeyPath;
    }

    [Fact]
    public async Task Set_and_get_over_tls_answer_the_exact_bytes()
    {
        await using var server = await TestServer.StartAsync(EnableTls);
        Assert.Equal(server.Server.EndPoints, server.Server.TlsEndPoints);

        await using var client = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority);
        await client.RoundTripAsync("set greeting 5 0 5\r\nhello\r\n", "STORED\r\n");
        await client.RoundTripAsync("get greeting\r\n", "VALUE greeting 5 5\r\nhello\r\nEND\r\n");
    }

    [Fact]
    public async Task A_large_value_crosses_tls_records_intact()
    {
        await using var server = await TestServer.StartAsync(EnableTls);
        await using var client = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority);
        var value = new string('x', 700 * 1024);
        await client.RoundTripAsync($"set big 0 0 {value.Length}\r\n{value}\r\n", "STORED\r\n");
        await client.RoundTripAsync("get big\r\n", $"VALUE big 0 {value.Length}\r\n{value}\r\nEND\r\n");
    }

    [Fact]
    public async Task Plain_text_on_the_tls_port_gets_no_reply_and_the_server_keeps_serving()
    {
        await using var server = await TestServer.StartAsync(EnableTls);
        using (var plain = await TestClient.ConnectAsync(server.EndPoint))
        {
            await plain.SendAsync("set k 0 0 1\r\nx\r\nget k\r\n");
            var (bytes, closed) = await plain.ReadUntilQuietAsync(TimeSpan.FromSeconds(5));
            Assert.True(closed, "the server should drop a connection that does not start a TLS handshake");
            Assert.DoesNotContain("STORED", System.Text.Encoding.Latin1.GetString(bytes), StringComparison.Ordinal);
        }

        await using var client = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority);
        await client.RoundTripAsync("get k\r\n", "END\r\n");
    }

    [Fact]
    public async Task A_notls_listener_beside_a_tls_one_serves_plain_text()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.ListenAddresses.Add("notls:127.0.0.1");
            options.ListenAddresses.Add("127.0.0.1");
        });
        var tlsEndPoint = Assert.Single(server.Server.TlsEndPoints);
        var plainEndPoint = Assert.Single(server.Server.EndPoints, endPoint => !endPoint.Equals(tlsEndPoint));

        using var plain = await TestClient.ConnectAsync(plainEndPoint);
        await plain.RoundTripAsync("set shared 0 0 4\r\nboth\r\n", "STORED\r\n");
        await using var secure = await TlsTestClient.ConnectAsync(tlsEndPoint, _certificates.Authority);
        await secure.RoundTripAsync("get shared\r\n", "VALUE shared 0 4\r\nboth\r\nEND\r\n");
    }

    [Fact]
    public async Task Required_client_certificate_refuses_a_client_without_one_and_admits_one_signed_by_the_ca()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.Tls.CaCertificatePath = _certificates.CaPath;
            options.Tls.VerifyMode = TlsVerifyMode.Require;
        });

        Assert.True(await IsRefusedAsync(server.EndPoint, _certificates.Authority, clientCertificate: null));
        using (var stranger = TestCertificates.IssueClient("CN=stranger", issuer: null, DateTimeOffset.UtcNow))
        {
            Assert.True(await IsRefusedAsync(server.EndPoint, _certificates.Authority, stranger));
        }

        await using var client = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority, _certificates.Client);
        await client.RoundTripAsync("set k 0 0 2\r\nok\r\n", "STORED\r\n");
    }

    [Fact]
    public async Task Requested_client_certificate_admits_a_client_without_one()
    {
        await using var server = await TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.Tls.CaCertificatePath = _certificates.CaPath;
            options.Tls.VerifyMode = TlsVerifyMode.Request;
        });

        await using var anonymous = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority);
        await anonymous.RoundTripAsync("version\r\n", $"VERSION {ServerContext.Version}\r\n");
        await using var withCertificate = await TlsTestClient.ConnectAsync(server.EndPoint, _certificates.Authority, _certificates.Client);
        await withCertificate.RoundTripAsync("get nothing\r\n", "END\r\n");
    }

    [Fact]
    public async Task Missing_certificate_file_is_a_configuration_error()
    {
        var error = await Assert.ThrowsAsync<CommandLineException>(() => TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.Tls.ChainCertificatePath = Path.Combine(_certificates.Directory, "absent.pem");
        }));
        Assert.Contains("ssl_chain_cert", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_without_a_key_is_a_configuration_error()
    {
        var error = await Assert.ThrowsAsync<CommandLineException>(() => TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.Tls.KeyPath = null;
        }));
        Assert.Contains("ssl_key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_file_that_is_not_pem_is_a_configuration_error()
    {
        var garbage = Path.Combine(_certificates.Directory, "garbage.key");
        await File.WriteAllTextAsync(garbage, "not a key");
        await Assert.ThrowsAsync<CommandLineException>(() => TestServer.StartAsync(options =>
        {
            EnableTls(options);
            options.Tls.KeyPath = garbage;
        }));
    }

    /// <summary>Refusal shows as a failed handshake, or under TLS 1.3 as an alert or close on the first read.</summary>
    private static async Task<bool> IsRefusedAsync(IPEndPoint endPoint, X509Certificate2 authority, X509Certificate2? clientCertificate)
    {
        try
        {
            await using var client = await TlsTestClient.ConnectAsync(endPoint, authority, clientCertificate);
            await client.SendAsync("version\r\n");
            await client.ReadExactlyAsync(1);
            return false;
        }
        catch (Exception error) when (error is AuthenticationException or IOException)
        {
            return true;
        }
    }

    public void Dispose() => _certificates.Dispose();
}
