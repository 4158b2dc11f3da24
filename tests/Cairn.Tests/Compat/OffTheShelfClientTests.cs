using Cairn.Tests.Support;

namespace Cairn.Tests.Compat;

/// <summary>Clients we did not write, pointed at the in-process server, must find nothing to complain about.</summary>
public class OffTheShelfClientTests
{
    [ExternalToolFact("memccapable")]
    public async Task Memccapable_passes_every_ascii_test()
    {
        await using var server = await TestServer.StartAsync();
        var (exitCode, output) = await ExternalTool.RunAsync("bash", ["tests/compat/memccapable.sh", "127.0.0.1", server.Port.ToString()], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, output);
        Assert.Contains("All tests passed", output);
        Assert.DoesNotContain("[FAIL]", output);
    }

    [ExternalToolFact("/usr/lib/python3/dist-packages/pymemcache/test/test_integration.py", "/usr/lib/python3/dist-packages/pytest")]
    public async Task Pymemcache_integration_tests_pass()
    {
        await using var server = await TestServer.StartAsync();
        var (exitCode, output) = await ExternalTool.RunAsync("bash", ["tests/compat/pymemcache.sh", "127.0.0.1", server.Port.ToString()], TimeSpan.FromMinutes(3));
        Assert.True(exitCode == 0, output);
        Assert.Matches(@"\d+ passed", output);
        Assert.DoesNotMatch(@"\d+ failed", output);
    }

    [ExternalToolFact("/usr/lib/python3/dist-packages/bmemcached")]
    public async Task Python_binary_memcached_works_over_the_binary_protocol()
    {
        await using var server = await TestServer.StartAsync();
        var (exitCode, output) = await ExternalTool.RunAsync("/usr/bin/python3", ["tests/compat/binary-memcached.py", "127.0.0.1", server.Port.ToString()], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, output);
        Assert.Contains(" passed, 0 failed", output);
    }

    [ExternalToolFact("/usr/lib/python3/dist-packages/bmemcached")]
    public async Task Python_binary_memcached_authenticates_with_sasl_and_a_wrong_password_is_refused()
    {
        using var files = new Auth.AuthFiles();
        await using var server = await TestServer.StartAsync(options =>
        {
            options.SaslEnabled = true;
            options.SaslPasswordFile = files.PasswordFile;
        });
        var (exitCode, output) = await ExternalTool.RunAsync(
            "/usr/bin/python3",
            ["tests/compat/binary-memcached.py", "127.0.0.1", server.Port.ToString(), "alice", "secret", "not-the-password"],
            TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, output);
        Assert.Contains("PASS wrong password refused", output);
        Assert.Contains(" passed, 0 failed", output);
    }
}
