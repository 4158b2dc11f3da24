using System.Security.Cryptography;
using Cairn.Cli;
using Cairn.Tests.Support;

namespace Cairn.Tests.Backup;

/// <summary>`cairn verify --data-dir`: recovery's decisions, reported and not carried out.</summary>
public sealed class VerifyTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cairn-verify-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    [Fact]
    public async Task A_cleanly_stopped_directory_would_start_unchanged()
    {
        await WriteItemsAsync(200);
        var before = Fingerprint();

        var (code, output, _) = await RunAsync("verify", "--data-dir", _data);

        Assert.Equal(ExitCodes.Success, code);
        Assert.Contains("200 records", output, StringComparison.Ordinal);
        Assert.Contains("a start would change nothing", output, StringComparison.Ordinal);
        Assert.Equal(before, Fingerprint());
    }

    [Fact]
    public async Task A_torn_tail_is_reported_with_its_offset_left_in_place_and_then_cut_by_a_real_start_at_that_offset()
    {
        await WriteItemsAsync(200);
        var segment = LastSegment();
        var goodLength = new FileInfo(segment).Length;
        await File.AppendAllTextAsync(segment, "half a record, never acknowledged");
        var before = Fingerprint();

        var (code, output, _) = await RunAsync("verify", "--data-dir", _data);

        Assert.Equal(ExitCodes.WouldRepair, code);
        Assert.Contains($"cut {segment} at offset {goodLength}", output, StringComparison.Ordinal);
        Assert.Equal(before, Fingerprint());

        await using (var server = await TestServer.StartAsync(options => options.DataDirectory = _data))
        {
            Assert.Equal(goodLength, new FileInfo(segment).Length);
        }

        Assert.Equal(ExitCodes.Success, (await RunAsync("verify", "--data-dir", _data)).Code);
    }

    [Fact]
    public async Task Damage_with_records_after_it_is_a_refusal_naming_the_file_and_offset()
    {
        await WriteItemsAsync(200);
        var segment = LastSegment();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(segment, bytes);
        var before = Fingerprint();

        var (code, _, error) = await RunAsync("verify", "--data-dir", _data);

        Assert.Equal(ExitCodes.Damaged, code);
        Assert.Contains("a start would refuse", error, StringComparison.Ordinal);
        Assert.Contains(segment, error, StringComparison.Ordinal);
        Assert.Equal(before, Fingerprint());
    }

    [Fact]
    public async Task A_running_server_s_directory_and_a_missing_one_are_refused()
    {
        await using (var server = await TestServer.StartAsync(options => options.DataDirectory = _data))
        {
            var (code, _, error) = await RunAsync("verify", "--data-dir", _data);
            Assert.Equal(ExitCodes.Usage, code);
            Assert.Contains("is locked", error, StringComparison.Ordinal);
        }

        var missing = await RunAsync("verify", "--data-dir", _data + "-nowhere");
        Assert.Equal(ExitCodes.Usage, missing.Code);
        Assert.Contains("does not exist", missing.Error, StringComparison.Ordinal);
    }

    private async Task WriteItemsAsync(int count)
    {
        await using var server = await TestServer.StartAsync(options => options.DataDirectory = _data);
        using var client = await server.ConnectAsync();
        await client.SendAsync(string.Concat(Enumerable.Range(0, count).Select(i => $"set v{i} 0 0 8 noreply\r\nvalue{i:D3}\r\n")) + "mn\r\n");
        await client.ExpectAsync("MN\r\n");
    }

    private string LastSegment() => Directory.GetFiles(_data, "log-*.seg").Order(StringComparer.Ordinal).Last();

    /// <summary>Every file's name, length and SHA-256: equal before and after means nothing changed.</summary>
    private string Fingerprint() => string.Join('\n', Directory.GetFiles(_data).Order(StringComparer.Ordinal)
        .Select(path => $"{Path.GetFileName(path)} {new FileInfo(path).Length} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)))}"));

    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await CliApplication.RunAsync(args, TextReader.Null, output, error).WaitAsync(TimeSpan.FromSeconds(60));
        return (code, output.ToString(), error.ToString());
    }
}
