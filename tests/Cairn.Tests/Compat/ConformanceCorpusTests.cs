using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Compat;

/// <summary>
/// Replays every case recorded from memcached 1.6.18 (tests/conformance/cases) against a fresh in-process
/// server and demands the same bytes. Where Cairn differs on purpose, tests/conformance/cairn/NAME.out
/// holds Cairn's reply and DIFFERENCES.md there says why.
/// </summary>
public class ConformanceCorpusTests
{
    private static readonly string CorpusRoot = Path.Combine(ExternalTool.RepositoryRoot, "tests", "conformance");

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var input in Directory.GetFiles(Path.Combine(CorpusRoot, "cases"), "*.in").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileNameWithoutExtension(input));
        }

        return data;
    }

    [Fact]
    public void Corpus_is_present_and_every_override_names_a_recorded_case()
    {
        Assert.True(Cases().Count >= 100);
        foreach (var overrideFile in Directory.GetFiles(Path.Combine(CorpusRoot, "cairn"), "*.out"))
        {
            Assert.True(File.Exists(Path.Combine(CorpusRoot, "cases", Path.GetFileNameWithoutExtension(overrideFile) + ".in")), overrideFile);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Replies_match_memcached_byte_for_byte(string name)
    {
        var input = await File.ReadAllBytesAsync(Path.Combine(CorpusRoot, "cases", name + ".in"));
        var overridePath = Path.Combine(CorpusRoot, "cairn", name + ".out");
        var expectedPath = File.Exists(overridePath) ? overridePath : Path.Combine(CorpusRoot, "cases", name + ".out");
        var expected = await File.ReadAllBytesAsync(expectedPath);
        var closes = (await File.ReadAllLinesAsync(Path.Combine(CorpusRoot, "closes.txt")))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Contains(name);

        await using var server = await TestServer.StartAsync(options =>
        {
            if (name.StartsWith("large_", StringComparison.Ordinal))
            {
                options.MaxItemSize = 1024;
            }
        });
        using var client = await server.ConnectAsync();
        await client.SendAsync(input);

        var received = new List<byte>();
        var closed = false;
        if (expected.Length > 0)
        {
            try
            {
                received.AddRange(await client.ReadExactlyAsync(expected.Length, TimeSpan.FromSeconds(5)));
            }
            catch (Exception error) when (error is TimeoutException or EndOfStreamException)
            {
                Assert.Fail($"{name}: {error.Message}\nexpected:\n{Show(expected)}");
            }
        }

        // Anything more than memcached sent is a failure too, so listen a little past the expected end.
        var (extra, isClosed) = await client.ReadUntilQuietAsync(TimeSpan.FromMilliseconds(closes ? 2000 : expected.Length == 0 ? 300 : 100));
        received.AddRange(extra);
        closed = isClosed;

        Assert.Equal(Show(expected), Show([.. received]));
        Assert.True(closes == closed, closes ? "memcached closed the connection here" : "the connection was closed unexpectedly");
    }

    private static string Show(byte[] bytes)
    {
        var text = new StringBuilder();
        foreach (var b in bytes)
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n\n",
                < 0x20 or >= 0x7f => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }

        return text.ToString();
    }
}
