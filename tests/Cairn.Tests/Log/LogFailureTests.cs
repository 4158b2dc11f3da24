using Cairn.Storage.Log;
using Cairn.Tests.Support;
using Xunit.Abstractions;

namespace Cairn.Tests.Log;

/// <summary>A failed write or fsync is never published: waiters fault, writes are refused, and the writer retries until the disk recovers.</summary>
public sealed class LogFailureTests(ITestOutputHelper output) : IDisposable
{
    private const int None = -1;

    private readonly TempDirectory _directory = new();
    private int _failing = None;

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(FsyncPolicy.Always, "Write")]
    [InlineData(FsyncPolicy.Always, "Fsync")]
    [InlineData(FsyncPolicy.EverySecond, "Write")]
    [InlineData(FsyncPolicy.No, "Write")]
    public async Task Failed_writes_fault_waiters_refuse_writes_and_recover_when_the_disk_does(FsyncPolicy policy, string operation)
    {
        var harness = Harness(policy);
        using (var log = harness.Open())
        {
            await log.SetDurablyAsync("before", "ok");

            Fail(Enum.Parse<LogIoOperation>(operation));
            long failed = log.Set("during", "fails");
            var error = await Assert.ThrowsAsync<LogWriteException>(async () => await log.WaitForDurableAsync(failed));
            Assert.Contains("No space left on device (injected)", error.Message);
            Assert.IsType<IOException>(error.InnerException);
            Assert.False(log.IsAcceptingWrites);
            Assert.Contains("No space left on device (injected)", log.FailureReason);

            // While failing, a new wait fails at once instead of hanging the client.
            long refused = log.Set("while-failing", "queued");
            await Assert.ThrowsAsync<LogWriteException>(async () => await log.WaitForDurableAsync(refused));
            var statistics = log.GetStatistics();
            Assert.True(statistics.WriteErrors >= 1);
            Assert.Contains("injected", statistics.LastError);

            Fail(null);
            await LogTestKit.EventuallyAsync(() => log.IsAcceptingWrites, "the retry succeeding");
            Assert.Null(log.FailureReason);
            await log.WaitForDurableAsync(refused);
            await log.SetDurablyAsync("after", "ok");
            Assert.Contains(harness.Lines, line => line.Contains("accepting writes", StringComparison.Ordinal));
        }

        // The records whose waits failed were retried at the same offset, not lost or duplicated.
        Assert.Equal(["before", "during", "while-failing", "after"], harness.Reopen().Select(r => r.Key));
    }

    [Fact]
    public async Task A_failed_periodic_fsync_refuses_writes_until_it_succeeds()
    {
        var harness = Harness(FsyncPolicy.EverySecond, fsyncInterval: TimeSpan.FromMilliseconds(20));
        using (var log = harness.Open())
        {
            Fail(LogIoOperation.Fsync);
            await log.SetDurablyAsync("written", "published before its fsync");
            await LogTestKit.EventuallyAsync(() => !log.IsAcceptingWrites, "the periodic fsync failing");
            long refused = log.Set("refused", "while fsync fails");
            await Assert.ThrowsAsync<LogWriteException>(async () => await log.WaitForDurableAsync(refused));

            Fail(null);
            await LogTestKit.EventuallyAsync(() => log.IsAcceptingWrites, "the fsync retry succeeding");
            await log.WaitForDurableAsync(refused);
        }

        Assert.Equal(["written", "refused"], harness.Reopen().Select(r => r.Key));
    }

    [Fact]
    public async Task Closing_while_writes_fail_gives_up_after_one_more_attempt_and_faults_the_waiters()
    {
        var harness = Harness(FsyncPolicy.Always);
        var log = harness.Open();
        await log.SetDurablyAsync("kept", "ok");
        Fail(LogIoOperation.Write);
        long lost = log.Set("lost", "never written");
        await Assert.ThrowsAsync<LogWriteException>(async () => await log.WaitForDurableAsync(lost));

        log.Dispose();

        Fail(null);
        Assert.Equal(["kept"], harness.Reopen().Select(r => r.Key));
    }

    [Fact]
    public async Task Failed_rotation_is_retried_and_no_record_is_lost()
    {
        var harness = Harness(FsyncPolicy.Always, segmentSize: 4096);
        using (var log = harness.Open())
        {
            Fail(LogIoOperation.CreateSegment);
            var waits = new List<Task>();
            for (int i = 0; i < 60; i++)
            {
                waits.Add(log.WaitForDurableAsync(log.Set($"key-{i:000}", new string('v', 100))).AsTask());
            }

            await LogTestKit.EventuallyAsync(() => !log.IsAcceptingWrites, "the rotation failing");
            Fail(null);
            await LogTestKit.EventuallyAsync(() => log.IsAcceptingWrites, "the rotation retry succeeding");
            await log.WaitForDurableAsync(log.AppendedPosition);
            Assert.True(log.GetStatistics().Segments >= 2);
        }

        Assert.Equal(60, harness.Reopen().Count);
    }

    /// <summary>
    /// A real full disk: a 1 MiB tmpfs (needs root and permission to mount; skipped otherwise), a ballast file, and
    /// appends until the kernel says ENOSPC. Deleting the ballast lets the writer's retry succeed.
    /// </summary>
    [TmpfsFact]
    public async Task A_really_full_disk_refuses_writes_and_recovers_when_space_is_freed()
    {
        var mountPoint = _directory.File("tmpfs");
        Directory.CreateDirectory(mountPoint);
        Assert.True(TmpfsFactAttribute.Mount(mountPoint, "1m"), "mount failed although the probe succeeded");
        try
        {
            var ballast = Path.Combine(mountPoint, "ballast");
            File.WriteAllBytes(ballast, new byte[600 * 1024]);
            var harness = new LogHarness(Path.Combine(mountPoint, "data")) { Fsync = FsyncPolicy.Always, RetryInterval = TimeSpan.FromMilliseconds(20) };
            var acknowledged = new List<string>();
            var appended = new List<string>();
            LogWriteException? full = null;
            using (var log = harness.Open())
            {
                var value = new string('x', 16 * 1024);
                for (int i = 0; i < 200 && full is null; i++)
                {
                    var key = $"key-{i:000}";
                    long position = log.Set(key, value);
                    appended.Add(key);
                    try
                    {
                        await log.WaitForDurableAsync(position);
                        acknowledged.Add(key);
                    }
                    catch (LogWriteException error)
                    {
                        full = error;
                    }
                }

                Assert.NotNull(full);
                output.WriteLine($"{acknowledged.Count} records acknowledged before: {full.Message}");
                Assert.Contains("No space left on device", full.Message);
                Assert.False(log.IsAcceptingWrites);

                File.Delete(ballast);
                await LogTestKit.EventuallyAsync(() => log.IsAcceptingWrites, "the retry after space was freed");
                await log.SetDurablyAsync("after", "space freed");
                appended.Add("after");
            }

            var replayed = harness.Reopen().Select(r => r.Key).ToList();
            Assert.Equal(appended, replayed);
            Assert.Equal(acknowledged, replayed.Take(acknowledged.Count));
        }
        finally
        {
            TmpfsFactAttribute.Unmount(mountPoint);
        }
    }

    /// <summary>
    /// After a failed fsync Linux may mark the dirty pages clean and drop them (PostgreSQL's "fsyncgate"),
    /// so bytes written since the last good fsync can vanish from the file. The writer keeps them and
    /// writes them again before its next fsync: simulate the loss and check every record comes back.
    /// </summary>
    [Fact]
    public async Task Bytes_lost_with_a_failed_fsync_are_written_again_before_the_next_one()
    {
        var dropped = 0;
        var harness = new LogHarness(_directory.Path)
        {
            Fsync = FsyncPolicy.EverySecond,
            RetryInterval = TimeSpan.FromMilliseconds(20),
            FsyncInterval = TimeSpan.FromMilliseconds(20),
            BeforeIo = operation =>
            {
                if (operation == LogIoOperation.Fsync && Interlocked.Exchange(ref dropped, 1) == 0)
                {
                    // Zero everything after the segment header, as if the page cache had been thrown away.
                    var segment = LogTestKit.OnlySegment(_directory.Path);
                    using var file = new FileStream(segment, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                    var length = file.Length - LogRecordCodec.SegmentHeaderSize;
                    file.Position = LogRecordCodec.SegmentHeaderSize;
                    file.Write(new byte[length]);
                    throw new IOException("Input/output error (injected)");
                }
            },
        };

        var keys = Enumerable.Range(0, 200).Select(i => $"key{i}").ToList();
        using (var log = harness.Open())
        {
            // Appends only: while the fsync is failing a wait fails at once by design, so wait once at the end.
            long last = 0;
            foreach (var key in keys)
            {
                last = log.Set(key, "value");
            }

            await LogTestKit.EventuallyAsync(
                () => Volatile.Read(ref dropped) == 1 && log.IsAcceptingWrites && log.DurablePosition >= last && log.GetStatistics().Fsyncs > 0,
                "a failed fsync and a good one after it");
        }

        Assert.Equal(keys, harness.Reopen().Select(r => r.Key));
    }

    private void Fail(LogIoOperation? operation) => Volatile.Write(ref _failing, operation is { } failing ? (int)failing : None);

    private LogHarness Harness(FsyncPolicy policy, long segmentSize = LogOptions.DefaultSegmentSize, TimeSpan? fsyncInterval = null) => new(_directory.Path)
    {
        Fsync = policy,
        SegmentSize = segmentSize,
        RetryInterval = TimeSpan.FromMilliseconds(20),
        FsyncInterval = fsyncInterval ?? TimeSpan.FromSeconds(1),
        BeforeIo = operation =>
        {
            if (Volatile.Read(ref _failing) == (int)operation)
            {
                throw new IOException("No space left on device (injected)");
            }
        },
    };
}
