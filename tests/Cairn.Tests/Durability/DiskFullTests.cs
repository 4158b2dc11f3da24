using Cairn.Tests.Support;

namespace Cairn.Tests.Durability;

/// <summary>
/// A real full disk: the data directory sits on a small tmpfs (needs root, as in CI). Writes are refused
/// with a reason, reads keep working, stats say so, and writes resume once space is freed; nothing
/// acknowledged is lost across a restart.
/// </summary>
public class DiskFullTests
{
    [TmpfsFact]
    public async Task Full_disk_refuses_writes_cleanly_and_resumes_when_space_frees()
    {
        var mountPoint = Path.Combine(Path.GetTempPath(), "cairn-full-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mountPoint);
        Assert.True(TmpfsFactAttribute.Mount(mountPoint, "8m"));
        try
        {
            // Leave the log a little room, then take the rest away from it.
            var filler = Path.Combine(mountPoint, "filler");
            await File.WriteAllBytesAsync(filler, new byte[6 * 1024 * 1024]);
            var dataDirectory = Path.Combine(mountPoint, "data");
            var acknowledged = new List<string>();
            string? refusal = null;
            using (var server = await ChildServer.StartAsync(["--data-dir", dataDirectory, "--fsync", "always"]))
            {
                var value = new string('v', 4000);
                for (var i = 0; i < 2000 && refusal is null; i++)
                {
                    using var client = await LineClient.ConnectAsync(server.EndPoint);
                    try
                    {
                        await client.SendAsync($"set key{i} 0 0 {value.Length}\r\n{value}\r\n");
                        var reply = await client.ReadLineAsync();
                        if (reply == "STORED")
                        {
                            acknowledged.Add($"key{i}");
                        }
                        else
                        {
                            refusal = reply;
                        }
                    }
                    catch (IOException)
                    {
                        // The batch that met the full disk: dropped unanswered, so never acknowledged.
                    }
                }

                Assert.NotNull(refusal);
                Assert.StartsWith("SERVER_ERROR writes refused: ", refusal);

                using var reader = await LineClient.ConnectAsync(server.EndPoint);
                Assert.Equal(value, (await reader.GetAsync(acknowledged[0])).Value);
                await reader.SendAsync("stats\r\n");
                var stats = await ReadStatsAsync(reader);
                Assert.Equal("0", stats["log_accepting_writes"]);
                Assert.NotEqual("0", stats["log_write_errors"]);

                // compact cannot run while the log fails: it says so at once instead of waiting for the disk.
                await reader.SendAsync("compact\r\n");
                Assert.StartsWith("SERVER_ERROR writes refused: ", await reader.ReadLineAsync());

                // A too-large set would drop the old value: that too is a write, refused while the log fails.
                var tooLarge = new string('b', 2 * 1024 * 1024);
                await reader.SendAsync($"set {acknowledged[0]} 0 0 {tooLarge.Length}\r\n{tooLarge}\r\n");
                Assert.StartsWith("SERVER_ERROR writes refused: ", await reader.ReadLineAsync());
                await reader.SendAsync($"ms {acknowledged[0]} {tooLarge.Length}\r\n{tooLarge}\r\n");
                Assert.StartsWith("SERVER_ERROR writes refused: ", await reader.ReadLineAsync());
                Assert.Equal(value, (await reader.GetAsync(acknowledged[0])).Value);

                File.Delete(filler);
                var resumed = false;
                for (var attempt = 0; attempt < 100 && !resumed; attempt++)
                {
                    await Task.Delay(100);
                    await reader.SendAsync("set after 0 0 1\r\nx\r\n");
                    resumed = await reader.ReadLineAsync() == "STORED";
                }

                Assert.True(resumed, "writes did not resume after space was freed");
                acknowledged.Add("after");
                await server.SignalAsync("TERM");
                await server.Process.WaitForExitAsync();
            }

            using var restarted = await ChildServer.StartAsync(["--data-dir", dataDirectory]);
            using var check = await LineClient.ConnectAsync(restarted.EndPoint);
            foreach (var key in acknowledged)
            {
                Assert.NotNull((await check.GetAsync(key)).Value);
            }
        }
        finally
        {
            TmpfsFactAttribute.Unmount(mountPoint);
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    private static async Task<Dictionary<string, string>> ReadStatsAsync(LineClient client)
    {
        var stats = new Dictionary<string, string>();
        while (true)
        {
            var line = await client.ReadLineAsync();
            if (line == "END")
            {
                return stats;
            }

            var parts = line.Split(' ', 3);
            stats[parts[1]] = parts[2];
        }
    }
}
