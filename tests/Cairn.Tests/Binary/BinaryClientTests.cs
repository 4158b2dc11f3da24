using Cairn.Tests.Support;

namespace Cairn.Tests.Binary;

/// <summary>libmemcached's binary-protocol checks against the in-process server.</summary>
public class BinaryClientTests
{
    [ExternalToolFact("memccapable")]
    public async Task Memccapable_passes_every_binary_test()
    {
        await using var server = await TestServer.StartAsync();
        var (exitCode, output) = await ExternalTool.RunAsync("memccapable", ["-b", "-t", "5", "-h", "127.0.0.1", "-p", server.Port.ToString()], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, output);
        Assert.Contains("All tests passed", output);
        Assert.DoesNotContain("[FAIL]", output);
        Assert.Contains("binary stat", output);
    }
}
