using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

/// <summary>Torn tails are cut and saved aside; damage with valid records after it is refused unless the operator allows the cut.</summary>
public sealed class LogRecoveryTests : IDisposable
{
    private const int Header = 48;

    /// <summary>Set records of a 7-byte key and a 100-byte value.</summary>
    private const int Record = 48 + 7 + 100;

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Torn_tail_is_truncated_to_the_last_good_record_at_every_cut_offset()
    {
        var pristine = Path.Combine(_directory.Path, "pristine");
        using (var log = new LogHarness(pristine).Open())
        {
            for (int i = 0; i < 4; i++)
            {
                await log.SetDurablyAsync("k" + i, "value-" + i);
            }
        }

        const int RecordLength = 48 + 2 + 7;
        const int LastStart = Header + (3 * RecordLength);
        var pristineBytes = File.ReadAllBytes(LogTestKit.OnlySegment(pristine));
        Assert.Equal(LastStart + RecordLength, pristineBytes.Length);

        for (int cut = LastStart; cut < LastStart + RecordLength; cut++)
        {
            var directory = Path.Combine(_directory.Path, "cut-" + cut);
            LogTestKit.CopyDirectory(pristine, directory);
            var segment = LogTestKit.OnlySegment(directory);
            using (var file = new FileStream(segment, FileMode.Open))
            {
                file.SetLength(cut);
            }

            var harness = new LogHarness(directory);
            using (var log = harness.Open())
            {
                Assert.Equal(["k0", "k1", "k2"], harness.Replayed.Select(r => r.Key));
                Assert.Equal(cut - LastStart, harness.Report.TornBytesRemoved);
                Assert.Equal(LastStart, new FileInfo(segment).Length);
                if (cut > LastStart)
                {
                    Assert.NotNull(harness.Report.TornTailSavedAs);
                    Assert.StartsWith(segment + ".torn-", harness.Report.TornTailSavedAs);
                    Assert.Equal(pristineBytes[LastStart..cut], File.ReadAllBytes(harness.Report.TornTailSavedAs!));
                    Assert.Contains(harness.Lines, line => line.Contains("torn tail", StringComparison.Ordinal) && line.Contains(segment, StringComparison.Ordinal));
                }
                else
                {
                    Assert.Null(harness.Report.TornTailSavedAs);
                }

                Assert.True(log.IsAcceptingWrites);
                await log.SetDurablyAsync("after", "the cut");
            }

            var reopened = harness.Reopen();
            Assert.Equal(["k0", "k1", "k2", "after"], reopened.Select(r => r.Key));
            Assert.Equal([1ul, 2, 3, 4], reopened.Select(r => r.Sequence));
            Assert.Equal(0, harness.Report.TornBytesRemoved);
        }
    }

    [Fact]
    public async Task Zeroed_last_4KiB_is_a_torn_tail()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        long length = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Open))
        {
            file.Position = length - 4096;
            file.Write(new byte[4096]);
        }

        int intact = (int)((length - 4096 - Header) / Record);
        var replayed = harness.Reopen();

        Assert.Equal(intact, replayed.Count);
        Assert.Equal(length - (Header + (intact * Record)), harness.Report.TornBytesRemoved);
        Assert.Equal(Header + (intact * (long)Record), new FileInfo(segment).Length);
    }

    [Fact]
    public async Task Zeroes_past_the_last_record_are_cut_and_every_record_kept()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(new byte[4096]);
        }

        Assert.Equal(100, harness.Reopen().Count);
        Assert.Equal(4096, harness.Report.TornBytesRemoved);
    }

    [Fact]
    public async Task Flipped_bit_in_the_last_record_is_a_torn_tail()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        FlipBit(segment, Header + (99 * Record) + 60);

        var replayed = harness.Reopen();

        Assert.Equal(99, replayed.Count);
        Assert.Equal(Record, harness.Report.TornBytesRemoved);
        Assert.NotNull(harness.Report.TornTailSavedAs);
    }

    [Fact]
    public async Task Flipped_bit_before_valid_records_is_corruption_naming_file_offset_and_flag()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        long length = new FileInfo(segment).Length;
        long damaged = Header + (50 * Record);
        FlipBit(segment, damaged + 70);

        var error = Assert.Throws<LogCorruptionException>(() => harness.Open());

        Assert.Equal(segment, error.File);
        Assert.Equal(damaged, error.Offset);
        Assert.Contains(segment, error.Message);
        Assert.Contains($"offset {damaged}", error.Message);
        Assert.Contains("--truncate-corrupt-log", error.Message);
        Assert.Equal(length, new FileInfo(segment).Length);

        // The refusal released the lock: the operator's retry with the flag keeps the good prefix.
        var permitted = new LogHarness(_directory.Path) { TruncateAtCorruption = true };
        using (var log = permitted.Open())
        {
            Assert.Equal(50, permitted.Replayed.Count);
            Assert.Equal(length - damaged, permitted.Report.TornBytesRemoved);
            Assert.Contains(".corrupt-", permitted.Report.TornTailSavedAs);
            Assert.Equal(length - damaged, new FileInfo(permitted.Report.TornTailSavedAs!).Length);
            await log.SetDurablyAsync("key-new", "after the cut");
        }

        var reopened = harness.Reopen();
        Assert.Equal(51, reopened.Count);
        Assert.Equal("key-new", reopened[^1].Key);
    }

    [Fact]
    public async Task Damage_at_the_end_of_a_segment_that_is_not_the_last_is_corruption()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        using (var log = harness.Open())
        {
            for (int i = 0; i < 100; i++)
            {
                await log.SetDurablyAsync($"key-{i:000}", new string('v', 100));
            }
        }

        var segments = Directory.GetFiles(_directory.Path, "log-*.seg").Order(StringComparer.Ordinal).ToArray();
        Assert.True(segments.Length >= 3);
        long firstLength = new FileInfo(segments[0]).Length;
        int inFirst = (int)((firstLength - Header) / Record);
        using (var file = new FileStream(segments[0], FileMode.Open))
        {
            file.SetLength(firstLength - 10);
        }

        var error = Assert.Throws<LogCorruptionException>(() => harness.Open());
        Assert.Equal(segments[0], error.File);
        Assert.Equal(firstLength - Record, error.Offset);

        var permitted = new LogHarness(_directory.Path) { TruncateAtCorruption = true };
        using (var log = permitted.Open())
        {
            Assert.Equal(inFirst - 1, permitted.Replayed.Count);
            Assert.Equal(1, permitted.Report.Segments);
            Assert.All(segments.Skip(1), s => Assert.False(File.Exists(s)));
            Assert.Equal(segments.Length - 1, Directory.GetFiles(_directory.Path, "*.dropped-*").Length);
            await log.SetDurablyAsync("key-new", "continues");
        }

        var reopened = permitted.Reopen();
        Assert.Equal(inFirst, reopened.Count);
        Assert.Equal("key-new", reopened[^1].Key);
    }

    [Fact]
    public async Task A_stale_copy_of_an_old_record_at_the_end_is_cut_as_a_torn_tail()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        var bytes = File.ReadAllBytes(segment);
        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(bytes.AsSpan(Header, Record));
        }

        Assert.Equal(100, harness.Reopen().Count);
        Assert.Equal(Record, harness.Report.TornBytesRemoved);
    }

    [Fact]
    public async Task Temp_files_are_deleted_and_an_unnamed_segment_is_moved_aside_not_deleted()
    {
        var harness = await WriteHundredRecordsAsync();
        var segment = LogTestKit.OnlySegment(_directory.Path);
        File.Copy(segment, _directory.File("log-00000000000000ff.seg"));
        File.Copy(segment, _directory.File("log-0000000000000002.seg.tmp"));
        File.WriteAllText(_directory.File("MANIFEST.tmp"), "half a manifest");
        File.WriteAllText(_directory.File("notes.txt"), "operator's");
        File.WriteAllText(segment + ".torn-1700000000", "saved earlier");

        Assert.Equal(100, harness.Reopen().Count);

        var names = _directory.Names();
        Assert.Equal(["LOCK", "MANIFEST", "log-0000000000000001.seg", "log-0000000000000001.seg.torn-1700000000", "notes.txt"], names.Where(name => !name.Contains(".unnamed-", StringComparison.Ordinal)));
        var aside = Assert.Single(names, name => name.StartsWith("log-00000000000000ff.seg.unnamed-", StringComparison.Ordinal));
        Assert.Equal(new FileInfo(segment).Length, new FileInfo(_directory.File(aside)).Length);
        Assert.Equal(2, harness.Lines.Count(line => line.Contains("removed", StringComparison.Ordinal)));
        Assert.Contains(harness.Lines, line => line.Contains("log-00000000000000ff.seg", StringComparison.Ordinal) && line.Contains("moved aside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Missing_manifest_with_records_is_refused_and_nothing_is_deleted()
    {
        await WriteHundredRecordsAsync();
        File.Delete(_directory.File("MANIFEST"));

        var error = Assert.Throws<LogCorruptionException>(() => new LogHarness(_directory.Path).Open());

        Assert.Contains("MANIFEST", error.Message);
        Assert.True(File.Exists(_directory.File("log-0000000000000001.seg")));
    }

    [Fact]
    public void Segment_created_just_before_a_crash_without_a_manifest_is_a_fresh_start()
    {
        // The first open crashed between creating the segment (header only) and writing MANIFEST.
        var harness = new LogHarness(_directory.Path);
        using (harness.Open())
        {
        }

        File.Delete(_directory.File("MANIFEST"));

        using (var log = harness.Open())
        {
            Assert.Equal(0, harness.Report.Records);
        }

        Assert.Contains("MANIFEST", _directory.Names());
    }

    [Fact]
    public async Task Damaged_manifest_is_refused()
    {
        await WriteHundredRecordsAsync();
        File.WriteAllText(_directory.File("MANIFEST"), "cairn-log-manifest 1\nlog-0000000000000001.seg\ncrc32c 00000000\n");

        var error = Assert.Throws<LogCorruptionException>(() => new LogHarness(_directory.Path).Open());

        Assert.Equal(_directory.File("MANIFEST"), error.File);
        Assert.Contains("checksum", error.Message);
    }

    [Fact]
    public async Task A_segment_named_in_the_manifest_but_missing_is_corruption()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        using (var log = harness.Open())
        {
            for (int i = 0; i < 100; i++)
            {
                await log.SetDurablyAsync($"key-{i:000}", new string('v', 100));
            }
        }

        File.Delete(_directory.File("log-0000000000000002.seg"));

        var error = Assert.Throws<LogCorruptionException>(() => harness.Open());
        Assert.Equal(_directory.File("log-0000000000000002.seg"), error.File);
        Assert.Equal(0, error.Offset);
    }

    [Fact]
    public void Second_open_of_the_same_directory_in_this_process_is_refused()
    {
        var harness = new LogHarness(_directory.Path);
        using (harness.Open())
        {
            var error = Assert.Throws<DataDirectoryLockedException>(() => new LogHarness(_directory.Path).Open());

            Assert.Contains(_directory.Path, error.Message);
            Assert.Contains("another cairn-server", error.Message);
        }

        using (harness.Open())
        {
        }
    }

    private async Task<LogHarness> WriteHundredRecordsAsync()
    {
        var harness = new LogHarness(_directory.Path);
        using var log = harness.Open();
        for (int i = 0; i < 100; i++)
        {
            await log.SetDurablyAsync($"key-{i:000}", new string((char)('a' + (i % 26)), 100), cas: (ulong)i + 1);
        }

        return harness;
    }

    private static void FlipBit(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open);
        file.Position = offset;
        int value = file.ReadByte();
        file.Position = offset;
        file.WriteByte((byte)(value ^ 0x10));
    }
}
