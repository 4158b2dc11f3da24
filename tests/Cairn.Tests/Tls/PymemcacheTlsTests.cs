using Cairn.Tests.Support;

namespace Cairn.Tests.Tls;

/// <summary>pymemcache's whole integration suite, test_tls included, against one server with a plain and a TLS listener.</summary>
public class PymemcacheTlsTests
{
    [ExternalToolFact("/usr/lib/python3/dist-packages/pymemcache/test/test_integration.py", "/usr/lib/python3/dist-packages/pytest")]
    public async Task Pymemcache_integration_tests_pass_including_test_tls()
    {
        using var certificates = TestCertificates.Create();
        await using var server = await TestServer.StartAsync(options =>
        {
            options.Tls.Enabled = true;
            options.Tls.ChainCertificatePath = certificates.ServerChainPath;
            options.Tls.KeyPath = certificates.ServerKeyPath;
            options.ListenAddresses.Add("notls:127.0.0.1");
            options.ListenAddresses.Add("127.0.0.1");
        });
        var tls = Assert.Single(server.Server.TlsEndPoints);
        var plain = Assert.Single(server.Server.EndPoints, endPoint => !endPoint.Equals(tls));

        // The suite verifies the server certificate against the CA and the address it connects to (an IP SAN).
        var (exitCode, output) = await ExternalTool.RunAsync(
            "bash",
            ["tests/compat/pymemcache-tls.sh", "127.0.0.1", plain.Port.ToString(), "127.0.0.1", tls.Port.ToString(), certificates.CaPath, "-v"],
            TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, output);
        Assert.Matches(@"\d+ passed", output);
        Assert.DoesNotMatch(@"\d+ (failed|skipped|deselected|errors?)", output);
        Assert.Equal(3, System.Text.RegularExpressions.Regex.Count(output, @"::test_tls\[[^\]]+\] PASSED"));
    }
}
