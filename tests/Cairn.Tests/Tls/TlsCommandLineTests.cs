using System.Net;
using System.Security.Authentication;
using Cairn.Server.Hosting;
using Cairn.Server.Tls;

namespace Cairn.Tests.Tls;

public class TlsCommandLineTests
{
    [Fact]
    public void Z_and_ssl_options_are_read_from_one_comma_separated_o()
    {
        var options = CommandLine.Parse(["-Z", "-o", "ssl_chain_cert=/c.pem,ssl_key=/k.pem,modern,ssl_ca_cert=/ca.pem,ssl_verify_mode=2,ssl_min_version=tlsv1.3,ssl_ciphers=HIGH"]);
        Assert.True(options.Tls.Enabled);
        Assert.Equal("/c.pem", options.Tls.ChainCertificatePath);
        Assert.Equal("/k.pem", options.Tls.KeyPath);
        Assert.Equal("/ca.pem", options.Tls.CaCertificatePath);
        Assert.Equal(TlsVerifyMode.Require, options.Tls.VerifyMode);
        Assert.Equal(SslProtocols.Tls13, options.Tls.EnabledProtocols);
        Assert.Equal(["-o modern,ssl_ciphers=HIGH"], options.IgnoredOptions);
    }

    [Fact]
    public void Repeated_o_and_long_forms_accumulate()
    {
        var options = CommandLine.Parse(["--enable-ssl", "-ossl_chain_cert=/c.pem", "--extended=ssl_key=/k.pem", "-o", "ssl_verify_mode=1"]);
        Assert.True(options.Tls.Enabled);
        Assert.Equal("/c.pem", options.Tls.ChainCertificatePath);
        Assert.Equal("/k.pem", options.Tls.KeyPath);
        Assert.Equal(TlsVerifyMode.Request, options.Tls.VerifyMode);
        Assert.Empty(options.IgnoredOptions);
    }

    [Theory]
    [InlineData("ssl_verify_mode=4")]
    [InlineData("ssl_min_version=tlsv1.0")]
    [InlineData("ssl_min_version=sslv3")]
    [InlineData("ssl_key")]
    public void Bad_ssl_values_are_refused(string option)
    {
        Assert.Throws<CommandLineException>(() => CommandLine.Parse(["-Z", "-o", option]));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", 9889, false)]
    [InlineData("notls:127.0.0.1", "127.0.0.1", 9889, true)]
    [InlineData("notls:127.0.0.1:11211", "127.0.0.1", 11211, true)]
    [InlineData("localhost:11212", "127.0.0.1", 11212, false)]
    [InlineData("::1", "::1", 9889, false)]
    [InlineData("[::1]", "::1", 9889, false)]
    [InlineData("notls:[::1]:11213", "::1", 11213, true)]
    public void Listen_addresses_take_notls_and_a_port(string text, string address, int port, bool plain)
    {
        var parsed = ListenAddress.Parse(text, 9889);
        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), parsed.EndPoint);
        Assert.Equal(plain, parsed.Plain);
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("127.0.0.1:port")]
    [InlineData("[::1")]
    public void Bad_listen_addresses_are_refused(string text)
    {
        Assert.Throws<CommandLineException>(() => ListenAddress.Parse(text, 9889));
    }
}
