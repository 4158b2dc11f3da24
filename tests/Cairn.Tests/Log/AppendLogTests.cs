using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

public sealed class AppendLogTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Empty_directory_is_a_fresh_log_with_a_manifest_and_one_segment()
    {
        var harness = new LogHarness(Path.Combine(_directory.Path, "does", "not", "exist"));
        using (var log = harness.Open())
        {
            Assert.Equal(0, harness.Report.Records);
            Assert.Equal(0ul, harness.Report.HighestCas);
            Assert.Null(harness.Report.TornTailSavedAs);
            Assert.True(log.IsAcceptingWrites);
            Assert.Equal(0, log.AppendedPosition);
        }

        Assert.Equal(["LOCK", "MANIFEST", "log-0000000000000001.seg"], Directory.GetFiles(harness.Directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal("cairn-log-manifest 1\nlog-0000000000000001.seg\n", File.ReadAllText(Path.Combine(harness.Directory, "MANIFEST"))[..46]);
    }

    [Fact]
    public async Task Every_record_type_round_trips_with_every_field()
    {
        var harness = new LogHarness(_directory.Path);
        var bigValue = new byte[300_000];
        new Random(1).NextBytes(bigValue);
        using (var log = harness.Open())
        {
            log.Append(LogRecord.Set("alpha"u8, "first value"u8, flags: 0xDEADBEEF, expiresAt: 1_800_000_000, cas: 41, storedAt: 1_700_000_001));
            log.Append(LogRecord.Set(Encoding.ASCII.GetBytes(new string('k', 250)), bigValue, flags: 0, expiresAt: 0, cas: 42, storedAt: -5));
            log.Append(LogRecord.Set("empty"u8, ReadOnlySpan<byte>.Empty, 7, 8, 43, 9));
            log.Append(LogRecord.Delete("alpha"u8));
            log.Append(LogRecord.Touch("empty"u8, expiresAt: 1_900_000_000));
            log.Append(LogRecord.FlushAll(casUpTo: 77));
            long last = log.Append(LogRecord.FlushDelayed(flushAtUnixSeconds: 1_750_000_000));
            await log.WaitForDurableAsync(last);
        }

        var records = harness.Reopen();

        Assert.Equal(7, harness.Report.Records);
        Assert.Equal(77ul, harness.Report.HighestCas);
        Assert.Equal([1ul, 2, 3, 4, 5, 6, 7], records.Select(r => r.Sequence));
        Assert.Equal(new Replayed(LogRecordType.Set, 1, "alpha", records[0].Value, 0xDEADBEEF, 1_800_000_000, 41, 1_700_000_001, 0), records[0]);
        Assert.Equal("first value", records[0].Text);
        Assert.Equal(new string('k', 250), records[1].Key);
        Assert.Equal(bigValue, records[1].Value);
        Assert.Equal((42ul, -5L), (records[1].Cas, records[1].StoredAt));
        Assert.Equal(("empty", 0, 7u, 8L, 43ul, 9L), (records[2].Key, records[2].Value.Length, records[2].Flags, records[2].ExpiresAt, records[2].Cas, records[2].StoredAt));
        Assert.Equal(new Replayed(LogRecordType.Delete, 4, "alpha", records[3].Value, 0, 0, 0, 0, 0), records[3]);
        Assert.Empty(records[3].Value);
        Assert.Equal(new Replayed(LogRecordType.Touch, 5, "empty", records[4].Value, 0, 1_900_000_000, 0, 0, 0), records[4]);
        Assert.Equal(new Replayed(LogRecordType.FlushAll, 6, "", records[5].Value, 0, 0, 77, 0, 0), records[5]);
        Assert.Equal(new Replayed(LogRecordType.FlushDelayed, 7, "", records[6].Value, 0, 0, 0, 0, 1_750_000_000), records[6]);
    }

    [Fact]
    public async Task Appends_and_waits_for_durable_positions_do_not_allocate()
    {
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.No };
        using var log = harness.Open();
        var key = "key-0001"u8.ToArray();
        var value = new byte[40];
        for (int i = 0; i < 1000; i++)
        {
            log.Append(LogRecord.Set(key, value, 0, 0, (ulong)i, 0));
        }

        await log.WaitForDurableAsync(log.AppendedPosition);

        // These 400 records (under 19 KiB) fit the smallest batch buffer, so no buffer grows either.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            log.Append(LogRecord.Set(key, value, 1, 2, 3, 4));
            log.Append(LogRecord.Delete(key));
            log.Append(LogRecord.Touch(key, 5));
            log.Append(LogRecord.FlushAll(6));
            await log.WaitForDurableAsync(0);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Bad_keys_and_values_are_refused_before_anything_is_appended()
    {
        var harness = new LogHarness(_directory.Path);
        using var log = harness.Open();

        Assert.Throws<ArgumentOutOfRangeException>(() => log.Append(LogRecord.Set([], "v"u8, 0, 0, 0, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.Append(LogRecord.Delete(new byte[251])));
        Assert.Throws<ArgumentOutOfRangeException>(() => log.Append(LogRecord.Touch([], 1)));
        Assert.Equal(0, log.AppendedPosition);
    }

    [Fact]
    public async Task Positions_grow_by_each_record_length_and_never_repeat_across_threads()
    {
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.No };
        var positions = new ConcurrentBag<long>();
        using (var log = harness.Open())
        {
            var threads = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
            {
                long previous = 0;
                for (int i = 0; i < 2000; i++)
                {
                    // 48 + 7 + 1 bytes for every Set.
                    long position = log.Append(LogRecord.Set(Encoding.ASCII.GetBytes($"k{t}-{i % 10:0000}"), "v"u8, 0, 0, 0, 0));
                    Assert.True(position > previous);
                    previous = position;
                    positions.Add(position);
                }
            })).ToArray();
            await Task.WhenAll(threads);

            Assert.Equal(8000 * 56L, log.AppendedPosition);
            await log.WaitForDurableAsync(log.AppendedPosition);
            Assert.Equal(log.AppendedPosition, log.DurablePosition);
        }

        Assert.Equal(8000, positions.Distinct().Count());
        Assert.All(positions, p => Assert.Equal(0, p % 56));
        var replayed = harness.Reopen();
        Assert.Equal(8000, replayed.Count);
        Assert.Equal(Enumerable.Range(1, 8000).Select(i => (ulong)i), replayed.Select(r => r.Sequence));
    }

    [Fact]
    public async Task Concurrent_writers_share_fsyncs_under_Always_and_every_record_replays()
    {
        const int Writers = 16;
        const int PerWriter = 300;
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.Always };
        LogStatistics statistics;
        using (var log = harness.Open())
        {
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                for (int i = 0; i < PerWriter; i++)
                {
                    long position = log.Append(LogRecord.Set(Encoding.ASCII.GetBytes($"w{w}-{i}"), Encoding.ASCII.GetBytes($"value {w} {i}"), 0, 0, (ulong)((w * PerWriter) + i + 1), 0));
                    await log.WaitForDurableAsync(position);
                    Assert.True(log.DurablePosition >= position);
                }
            })).ToArray();
            await Task.WhenAll(writers);
            statistics = log.GetStatistics();
        }

        Assert.Equal(Writers * PerWriter, statistics.RecordsWritten);
        Assert.True(statistics.Fsyncs <= statistics.RecordsWritten / 2, $"{statistics.Fsyncs} fsyncs for {statistics.RecordsWritten} records: waiters did not share them");
        Assert.True(statistics.MaxRecordsPerCommit > 1);
        Assert.True(statistics.AverageRecordsPerCommit > 1);
        Assert.Equal(statistics.GroupCommits, statistics.Fsyncs);
        var replayed = harness.Reopen();
        Assert.Equal(Writers * PerWriter, replayed.Count);
        Assert.Equal((ulong)(Writers * PerWriter), harness.Report.HighestCas);
        Assert.Equal(Writers * PerWriter, replayed.Select(r => r.Key).Distinct().Count());
    }

    [Theory]
    [InlineData(FsyncPolicy.No)]
    [InlineData(FsyncPolicy.EverySecond)]
    public async Task Written_is_published_without_waiting_for_an_fsync(FsyncPolicy policy)
    {
        var harness = new LogHarness(_directory.Path) { Fsync = policy, FsyncInterval = TimeSpan.FromHours(1) };
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("a", "1");
            await log.SetDurablyAsync("b", "2");

            Assert.Equal(0, log.GetStatistics().Fsyncs);

            // Published means in the file: a second reader (or a restart after kill -9) sees it now.
            var segment = LogTestKit.OnlySegment(_directory.Path);
            Assert.Equal(48 + (2 * 50), new FileInfo(segment).Length);
        }

        Assert.Equal(["a", "b"], harness.Reopen().Select(r => r.Key));
    }

    [Fact]
    public async Task EverySecond_fsyncs_written_records_within_the_interval()
    {
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.EverySecond, FsyncInterval = TimeSpan.FromMilliseconds(50) };
        using var log = harness.Open();
        await log.SetDurablyAsync("a", "1");
        await Task.Delay(60);
        await log.SetDurablyAsync("b", "2");

        await LogTestKit.EventuallyAsync(() => log.GetStatistics().Fsyncs >= 1, "the periodic fsync");
    }

    [Fact]
    public void Dispose_writes_and_fsyncs_what_was_appended_but_not_waited_for()
    {
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.EverySecond, FsyncInterval = TimeSpan.FromHours(1) };
        using (var log = harness.Open())
        {
            for (int i = 0; i < 100; i++)
            {
                log.Set("k" + i, "v" + i);
            }
        }

        Assert.Equal(100, harness.Reopen().Count);
    }

    [Fact]
    public async Task Waits_after_dispose_complete_for_written_positions_and_appends_are_refused()
    {
        var harness = new LogHarness(_directory.Path);
        var log = harness.Open();
        long position = log.Set("k", "v");
        log.Dispose();

        await log.WaitForDurableAsync(position);
        Assert.False(log.IsAcceptingWrites);
        Assert.Throws<ObjectDisposedException>(() => log.Set("k", "v"));
    }

    [Fact]
    public async Task Segments_rotate_past_the_size_and_replay_crosses_them_in_order()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        using (var log = harness.Open())
        {
            for (int i = 0; i < 300; i++)
            {
                await log.SetDurablyAsync($"key-{i:0000}", new string((char)('a' + (i % 26)), 100), cas: (ulong)i + 1);
            }

            var statistics = log.GetStatistics();
            Assert.True(statistics.Segments >= 10, $"{statistics.Segments} segments");
            Assert.Equal(statistics.Segments, Directory.GetFiles(_directory.Path, "log-*.seg").Length);
            Assert.Equal(Directory.GetFiles(_directory.Path, "log-*.seg").Sum(f => new FileInfo(f).Length), statistics.LogBytes);
        }

        var replayed = harness.Reopen();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"key-{i:0000}"), replayed.Select(r => r.Key));
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (ulong)i), replayed.Select(r => r.Sequence));
        Assert.True(harness.Report.Segments >= 10);

        // Appending after a reopen continues the last segment and the sequence.
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("after", "reopen");
        }

        var again = harness.Reopen();
        Assert.Equal(301ul, again[^1].Sequence);
        Assert.Equal("after", again[^1].Key);
    }

    [Fact]
    public void Manifest_names_the_segments_in_order_with_a_checksum()
    {
        var text = SegmentFiles.EncodeManifest([1, 2, 0x1f]);

        Assert.StartsWith("cairn-log-manifest 1\nlog-0000000000000001.seg\nlog-0000000000000002.seg\nlog-000000000000001f.seg\ncrc32c ", text);
        Assert.Equal([1ul, 2, 0x1f], SegmentFiles.DecodeManifest(text, out _));
        Assert.Null(SegmentFiles.DecodeManifest(text.Replace("0002", "0003", StringComparison.Ordinal), out var problem));
        Assert.Contains("checksum", problem);
    }

    [Fact]
    public async Task Statistics_count_records_commits_and_bytes()
    {
        var harness = new LogHarness(_directory.Path);
        using var log = harness.Open();
        await log.SetDurablyAsync("a", "1");
        await log.SetDurablyAsync("b", "2");

        var statistics = log.GetStatistics();

        Assert.Equal(2, statistics.RecordsWritten);
        Assert.Equal(2, statistics.GroupCommits);
        Assert.Equal(2, statistics.Fsyncs);
        Assert.Equal(48 + 100, statistics.LogBytes);
        Assert.Equal(1, statistics.Segments);
        Assert.Equal(0, statistics.WriteErrors);
        Assert.Null(statistics.LastError);
        Assert.Equal(statistics.LogBytes, statistics.LiveBytesEstimate);
        Assert.Equal(0.5, log.DeadRatio(74));
    }

    private sealed class Piece : ReadOnlySequenceSegment<byte>
    {
        public Piece(byte[] bytes) => Memory = bytes;

        public Piece Then(byte[] bytes)
        {
            var next = new Piece(bytes) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
