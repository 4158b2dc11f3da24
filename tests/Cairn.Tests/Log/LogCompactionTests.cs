using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

/// <summary>Compaction rewrites the log as a snapshot while writes continue, and a crash at any step loses nothing.</summary>
public sealed class LogCompactionTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task State_after_compaction_more_writes_and_reopen_equals_the_model()
    {
        var workload = new RandomWorkload(seed: 11);
        var harness = new LogHarness(_directory.Path) { SegmentSize = 8192 };
        using (var log = harness.Open())
        {
            await workload.RunAsync(log, 600);
            long before = log.LogBytes;
            int segmentsBefore = log.GetStatistics().Segments;
            Assert.True(segmentsBefore > 3);

            await log.CompactAsync(workload.WriteSnapshot);

            var statistics = log.GetStatistics();
            Assert.Equal(1, statistics.Compactions);
            Assert.Equal(2, statistics.Segments);
            Assert.True(log.LogBytes < before, $"{log.LogBytes} bytes after compaction, {before} before");
            Assert.True(log.SnapshotBytes > 0);
            Assert.Equal(log.SegmentPaths().Select(Path.GetFileName).Order(StringComparer.Ordinal), _directory.Names().Where(n => n.EndsWith(".seg", StringComparison.Ordinal)));
            Assert.Equal(_directory.Names().Where(n => n.EndsWith(".seg", StringComparison.Ordinal)).Sum(n => new FileInfo(_directory.File(n)).Length), log.LogBytes);
            Assert.Contains(harness.Lines, line => line.Contains("compacted", StringComparison.Ordinal));

            await workload.RunAsync(log, 400);
        }

        var replayed = harness.Reopen();
        Assert.Equal(workload.Model.Describe(), LogModel.From(replayed).Describe());
    }

    [Fact]
    public async Task Compacting_twice_and_reopening_between_keeps_the_state()
    {
        var workload = new RandomWorkload(seed: 12);
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.EverySecond, SegmentSize = 8192 };
        for (int round = 0; round < 3; round++)
        {
            using (var log = harness.Open())
            {
                Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Replayed).Describe());
                await workload.RunAsync(log, 300);
                await log.CompactAsync(workload.WriteSnapshot);
                await workload.RunAsync(log, 50);
            }
        }

        Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Reopen()).Describe());
        Assert.Equal(3, _directory.Names().Length - 1); // LOCK, MANIFEST, snapshot, one log segment
    }

    [Fact]
    public async Task The_highest_cas_survives_compaction_even_when_its_item_was_deleted()
    {
        var harness = new LogHarness(_directory.Path);
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("kept", "1", cas: 5);
            await log.SetDurablyAsync("gone", "2", cas: 1000);
            await log.WaitForDurableAsync(log.Delete("gone"));
            await log.CompactAsync(writer => writer.WriteSet("kept"u8, "1"u8, 0, 0, 5, 0));
        }

        var replayed = harness.Reopen();
        Assert.Equal("kept", Assert.Single(replayed).Key);
        Assert.Equal(1000ul, harness.Report.HighestCas);
    }

    [Fact]
    public async Task Compaction_with_concurrent_appends_loses_nothing()
    {
        var workload = new RandomWorkload(seed: 13, keys: 200);
        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.Always, SegmentSize = 16 * 1024 };
        using (var log = harness.Open())
        {
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                int operations = 0;
                while (!stop.IsCancellationRequested || operations < 200)
                {
                    await log.WaitForDurableAsync(workload.Step(log));
                    operations++;
                }
            })).ToArray();

            for (int i = 0; i < 3; i++)
            {
                await Task.Delay(30);
                await log.CompactAsync(workload.WriteSnapshot);
            }

            await stop.CancelAsync();
            await Task.WhenAll(writers);
            Assert.Equal(3, log.GetStatistics().Compactions);
        }

        Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Reopen()).Describe());
    }

    [Fact]
    public async Task Failed_compaction_leaves_the_log_as_it_was_and_no_temp_files()
    {
        bool failSnapshot = true;
        var workload = new RandomWorkload(seed: 14);
        var harness = new LogHarness(_directory.Path)
        {
            BeforeIo = operation =>
            {
                if (operation == LogIoOperation.WriteSnapshot && Volatile.Read(ref failSnapshot))
                {
                    throw new IOException("No space left on device (injected)");
                }
            },
        };
        using (var log = harness.Open())
        {
            await workload.RunAsync(log, 200);

            await Assert.ThrowsAsync<IOException>(() => log.CompactAsync(workload.WriteSnapshot));

            Assert.DoesNotContain(_directory.Names(), name => name.EndsWith(".tmp", StringComparison.Ordinal));
            Assert.True(log.IsAcceptingWrites);
            await workload.RunAsync(log, 50);
            Volatile.Write(ref failSnapshot, false);
            await log.CompactAsync(workload.WriteSnapshot);
        }

        Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Reopen()).Describe());
    }

    [Fact]
    public async Task Pending_delayed_flush_is_kept_by_the_snapshot()
    {
        var harness = new LogHarness(_directory.Path);
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("k", "v", cas: 1);
            await log.WaitForDurableAsync(log.Append(LogRecord.FlushDelayed(1_900_000_000)));
            await log.CompactAsync(writer =>
            {
                writer.WriteSet("k"u8, "v"u8, 0, 0, 1, 0);
                writer.WriteFlushDelayed(1_900_000_000);
            });
        }

        var replayed = harness.Reopen();
        Assert.Equal([LogRecordType.Set, LogRecordType.FlushDelayed], replayed.Select(r => r.Type));
        Assert.Equal(1_900_000_000, replayed[1].FlushAt);
    }

    public static TheoryData<string> CrashPointNames => [.. CrashPoints.All];

    /// <summary>
    /// Crash (simulated: the hook throws where CAIRN_CRASH_AT would kill, and nothing tidies up) at each step, then
    /// recover: the full acknowledged state, no stray files; then write, compact and recover again.
    /// </summary>
    [Theory]
    [MemberData(nameof(CrashPointNames))]
    public async Task Crash_at_each_compaction_step_recovers_the_full_state_without_strays(string step)
    {
        var workload = new RandomWorkload(seed: 15);
        var crashing = new LogHarness(_directory.Path)
        {
            Fsync = FsyncPolicy.EverySecond,
            SegmentSize = 8192,
            CrashPoint = point =>
            {
                if (point == step)
                {
                    throw new SimulatedCrashException(point);
                }
            },
        };
        var log = crashing.Open();
        await workload.RunAsync(log, 400);

        await Assert.ThrowsAsync<SimulatedCrashException>(() => log.CompactAsync(writer =>
        {
            // Writes acknowledged while the snapshot is being taken land after the seal.
            for (int i = 0; i < 30; i++)
            {
                log.WaitForDurableAsync(workload.Step(log)).AsTask().GetAwaiter().GetResult();
            }

            workload.WriteSnapshot(writer);
        }));
        log.Abandon();
        bool leftStrays = step != CrashPoints.AfterSeal;

        var harness = new LogHarness(_directory.Path) { Fsync = FsyncPolicy.EverySecond, SegmentSize = 8192 };
        using (log = harness.Open())
        {
            Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Replayed).Describe());
            AssertOnlyLiveFiles(log);
            Assert.Equal(leftStrays, harness.Lines.Any(line => line.Contains("removed", StringComparison.Ordinal)));

            await workload.RunAsync(log, 100);
            await log.CompactAsync(workload.WriteSnapshot);
            await workload.RunAsync(log, 20);
        }

        using (log = harness.Open())
        {
            Assert.Equal(workload.Model.Describe(), LogModel.From(harness.Replayed).Describe());
            AssertOnlyLiveFiles(log);
        }
    }

    private void AssertOnlyLiveFiles(AppendLog log) =>
        Assert.Equal(
            ["LOCK", "MANIFEST", .. log.SegmentPaths().Select(p => Path.GetFileName(p)!)],
            _directory.Names().Where(n => !n.Contains(".torn-", StringComparison.Ordinal)).ToArray());
}
