using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Cairn.Cli;
using Cairn.Tests.Support;

namespace Cairn.Tests.Backup;

/// <summary>`cairn backup` from a serving server, `cairn restore` into a new data directory, and damaged backups refused.</summary>
public sealed partial class BackupRestoreTests : IDisposable
{
    private const int Items = 5000;
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), "cairn-backup-" + Guid.NewGuid().ToString("N"));

    public BackupRestoreTests() => Directory.CreateDirectory(_scratch);

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public async Task A_backup_taken_while_writes_continue_restores_every_item_it_was_taken_after()
    {
        var backup = Path.Combine(_scratch, "backup");
        var restored = Path.Combine(_scratch, "restored");
        await using (var server = await TestServer.StartAsync(options => options.DataDirectory = Path.Combine(_scratch, "source")))
        {
            using (var load = await server.ConnectAsync())
            {
                await load.SendAsync(string.Concat(Enumerable.Range(0, Items).Select(i => $"set item:{i} {i % 7} 3600 6 noreply\r\nv{i:D5}\r\n")) + "delete item:7\r\n");
                await load.ExpectAsync("DELETED\r\n");
            }

            using var stop = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                using var client = await server.ConnectAsync();
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    await client.RoundTripAsync($"set other:{i % 500} 0 0 1\r\nx\r\n", "STORED\r\n");
                }
            });

            var (code, output, error) = await RunAsync("--server", $"127.0.0.1:{server.Port}", "backup", backup);
            await stop.CancelAsync();
            await writer;
            Assert.True(code == ExitCodes.Success, output + error);
            Assert.Matches(@"^backup of 127\.0\.0\.1:\d+ complete: [\d,]+ records", output);
        }

        var restore = await RunAsync("restore", backup, "--data-dir", restored);
        Assert.True(restore.Code == ExitCodes.Success, restore.Output + restore.Error);

        await using var again = await TestServer.StartAsync(options => options.DataDirectory = restored);
        using var check = await again.ConnectAsync();
        await check.RoundTripAsync("get item:7\r\n", "END\r\n");
        for (var i = 0; i < Items; i += 97)
        {
            if (i == 7)
            {
                continue;
            }

            await check.SendAsync($"mg item:{i} v f t\r\n");
            var header = (await check.ReadLineAsync()).TrimEnd().Split(' ');
            Assert.Equal(["VA", "6", $"f{i % 7}"], header[..3]);
            Assert.InRange(long.Parse(header[3][1..], CultureInfo.InvariantCulture), 3500, 3600);
            Assert.Equal($"v{i:D5}\r\n", await check.ReadLineAsync());
        }

        await check.SendAsync("stats\r\n");
        var stats = await check.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(300));
        var items = long.Parse(CurrentItems().Match(System.Text.Encoding.ASCII.GetString(stats.Bytes)).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.InRange(items, Items - 1, Items - 1 + 500);
    }

    [Fact]
    public async Task A_damaged_or_incomplete_backup_is_refused_with_the_file_and_offset_and_nothing_is_created()
    {
        var backup = await TakeBackupAsync();
        var items = Path.Combine(backup, "items.log");
        var manifest = Path.Combine(backup, "BACKUP.json");
        var original = await File.ReadAllBytesAsync(items);
        var originalManifest = await File.ReadAllTextAsync(manifest);

        // A flipped byte in the last record's value: the SHA-256 catches it.
        var flipped = (byte[])original.Clone();
        flipped[^2] ^= 0x40;
        await File.WriteAllBytesAsync(items, flipped);
        await AssertRefusedAsync(backup, $"{items} at offset 0: SHA-256");

        // The same byte with the manifest's digest forged to match: the record's CRC names where.
        await File.WriteAllTextAsync(manifest, originalManifest.Replace(Sha(original), Sha(flipped), StringComparison.Ordinal));
        await AssertRefusedAsync(backup, "a record fails its CRC check");

        // Cut short.
        await File.WriteAllBytesAsync(items, original[..^10]);
        await File.WriteAllTextAsync(manifest, originalManifest);
        await AssertRefusedAsync(backup, $"{items} at offset {original.Length - 10}: {original.Length - 10} bytes, but the manifest says {original.Length}");

        // No manifest: the backup never finished.
        await File.WriteAllBytesAsync(items, original);
        File.Delete(manifest);
        await AssertRefusedAsync(backup, $"{manifest} at offset 0: missing: the backup did not finish");
    }

    [Fact]
    public async Task Restore_and_backup_refuse_a_directory_that_is_not_empty()
    {
        var backup = await TakeBackupAsync();
        var occupied = Path.Combine(_scratch, "occupied");
        Directory.CreateDirectory(occupied);
        await File.WriteAllTextAsync(Path.Combine(occupied, "keep.txt"), "mine");

        var restore = await RunAsync("restore", backup, "--data-dir", occupied);
        Assert.Equal(ExitCodes.Usage, restore.Code);
        Assert.Contains("is not empty", restore.Error, StringComparison.Ordinal);

        await using var server = await TestServer.StartAsync();
        var again = await RunAsync("--server", $"127.0.0.1:{server.Port}", "backup", occupied);
        Assert.Equal(ExitCodes.Usage, again.Code);
        Assert.Equal(["keep.txt"], Directory.GetFiles(occupied).Select(Path.GetFileName));
    }

    [Fact]
    public async Task A_server_without_a_log_cannot_be_backed_up_and_says_so()
    {
        await using var server = await TestServer.StartAsync(options => options.Persist = false);
        var (code, _, error) = await RunAsync("--server", $"127.0.0.1:{server.Port}", "backup", Path.Combine(_scratch, "none"));
        Assert.Equal(ExitCodes.Unreachable, code);
        Assert.Contains("has no BACKUP.json and restores nothing", error, StringComparison.Ordinal);
    }

    private async Task<string> TakeBackupAsync()
    {
        var backup = Path.Combine(_scratch, "backup-" + Guid.NewGuid().ToString("N"));
        await using var server = await TestServer.StartAsync();
        using (var load = await server.ConnectAsync())
        {
            await load.SendAsync(string.Concat(Enumerable.Range(0, 300).Select(i => $"set k{i} 0 0 4 noreply\r\nv{i:D3}\r\n")) + "mn\r\n");
            await load.ExpectAsync("MN\r\n");
        }

        var (code, output, error) = await RunAsync("--server", $"127.0.0.1:{server.Port}", "backup", backup);
        Assert.True(code == ExitCodes.Success, output + error);
        return backup;
    }

    private async Task AssertRefusedAsync(string backup, string message)
    {
        var target = Path.Combine(_scratch, "restore-" + Guid.NewGuid().ToString("N"));
        var (code, _, error) = await RunAsync("restore", backup, "--data-dir", target);
        Assert.Equal(ExitCodes.Damaged, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(target));
    }

    private static string Sha(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApplication.RunAsync(args, TextReader.Null, output, error).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, output.ToString(), error.ToString());
    }

    [GeneratedRegex(@"STAT curr_items (\d+)")]
    private static partial Regex CurrentItems();
}
