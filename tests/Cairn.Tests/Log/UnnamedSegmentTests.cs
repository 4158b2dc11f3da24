using Cairn.Storage.Log;
using Cairn.Tests.Support;

namespace Cairn.Tests.Log;

/// <summary>Recovery never deletes data it does not understand, and a full disk does not block a restart.</summary>
public sealed class UnnamedSegmentTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task An_older_manifest_beside_a_newer_segment_is_refused_and_nothing_is_deleted()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        string oldManifest;
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("first", new string('a', 100));
            oldManifest = File.ReadAllText(_directory.File("MANIFEST"));
            for (int i = 0; i < 100; i++)
            {
                await log.SetDurablyAsync($"key-{i:000}", new string('b', 100));
            }
        }

        var before = _directory.Names();
        Assert.True(before.Count(name => name.EndsWith(".seg", StringComparison.Ordinal)) > 1);
        File.WriteAllText(_directory.File("MANIFEST"), oldManifest);

        var error = Assert.Throws<LogCorruptionException>(() => harness.Open());

        Assert.Contains("not named in", error.Message);
        Assert.Contains("MANIFEST is older than the segments", error.Message);
        Assert.Contains("move the file out of the data directory", error.Message);
        Assert.Equal(before, _directory.Names());
    }

    [Fact]
    public async Task A_segment_renamed_out_of_the_manifest_is_kept_when_start_refuses()
    {
        var harness = new LogHarness(_directory.Path);
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("k", "v");
        }

        File.Move(_directory.File("log-0000000000000001.seg"), _directory.File("log-0000000000000005.seg"));

        var error = Assert.Throws<LogCorruptionException>(() => harness.Open());

        Assert.Contains("missing", error.Message);
        Assert.True(File.Exists(_directory.File("log-0000000000000005.seg")));
    }

    [Fact]
    public async Task Torn_copies_are_bounded_to_the_newest_eight()
    {
        var harness = new LogHarness(_directory.Path);
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("k", "v");
        }

        var segment = LogTestKit.OnlySegment(_directory.Path);
        for (int i = 0; i < 12; i++)
        {
            var copy = $"{segment}.torn-{1_700_000_000 + i}";
            File.WriteAllText(copy, "old torn bytes");
            File.SetLastWriteTimeUtc(copy, DateTime.UnixEpoch.AddSeconds(1_700_000_000 + i));
        }

        Assert.Single(harness.Reopen());

        var kept = _directory.Names().Where(name => name.Contains(".torn-", StringComparison.Ordinal)).ToArray();
        Assert.Equal(8, kept.Length);
        Assert.DoesNotContain(kept, name => name.EndsWith("-1700000000", StringComparison.Ordinal));
        Assert.Contains(kept, name => name.EndsWith("-1700000011", StringComparison.Ordinal));
    }

    [TmpfsFact]
    public async Task A_torn_tail_on_a_full_disk_is_cut_without_a_copy_and_the_log_opens()
    {
        var mount = Path.Combine(_directory.Path, "tmpfs");
        Directory.CreateDirectory(mount);
        Assert.True(TmpfsFactAttribute.Mount(mount, "1m"));
        try
        {
            var data = Path.Combine(mount, "data");
            var harness = new LogHarness(data);
            using (var log = harness.Open())
            {
                await log.SetDurablyAsync("k", "acknowledged");
            }

            var segment = LogTestKit.OnlySegment(data);
            using (var file = new FileStream(segment, FileMode.Append))
            {
                file.Write(new byte[3000]);
            }

            FillDisk(mount);

            var replayed = harness.Reopen();

            Assert.Equal("acknowledged", Assert.Single(replayed).Text);
            Assert.Equal(3000, harness.Report.TornBytesRemoved);
            Assert.Null(harness.Report.TornTailSavedAs);
            Assert.Contains(harness.Lines, line => line.Contains("could not be copied aside", StringComparison.Ordinal));
            Assert.DoesNotContain(Directory.GetFiles(data), path => path.Contains(".torn-", StringComparison.Ordinal));
        }
        finally
        {
            TmpfsFactAttribute.Unmount(mount);
        }
    }

    private static void FillDisk(string mount)
    {
        using var filler = File.OpenHandle(Path.Combine(mount, "filler"), FileMode.Create, FileAccess.Write);
        var chunk = new byte[4096];
        try
        {
            for (long offset = 0; ; offset += chunk.Length)
            {
                RandomAccess.Write(filler, chunk, offset);
            }
        }
        catch (IOException)
        {
            // The disk is full: exactly the state a torn ENOSPC write leaves behind.
        }
    }
}
