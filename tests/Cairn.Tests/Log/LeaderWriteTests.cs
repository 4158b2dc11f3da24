using System.Text;
using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

/// <summary>
/// Leader/follower group commit: under no and everysec a thread about to wait for its records writes the pending batch
/// itself when nobody else is writing, and a write that fails there is retried by the writer thread, landing once.
/// </summary>
public sealed class LeaderWriteTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private volatile bool _failWrites;
    private volatile int _waitingThread;
    private int _writesByWaiter;
    private int _fsyncsByWaiter;

    public void Dispose() => _directory.Dispose();

    [Theory]
    [InlineData(FsyncPolicy.No)]
    [InlineData(FsyncPolicy.EverySecond)]
    public async Task A_waiter_with_nobody_writing_writes_its_own_batch_and_is_done_without_waiting(FsyncPolicy policy)
    {
        var harness = Harness(policy);
        using (var log = harness.Open())
        {
            for (int i = 0; i < 50; i++)
            {
                long position = AppendSet(log, $"k{i}", "v");
                _waitingThread = Environment.CurrentManagedThreadId;
                await log.WaitForDurableAsync(position);
                _waitingThread = 0;
                Assert.True(log.DurablePosition >= position);
            }
        }

        // The writer thread wakes on its own every 100 ms and may take a batch first now and then; almost never.
        Assert.True(_writesByWaiter >= 40, $"only {_writesByWaiter} of 50 batches were written by the thread waiting for them");
        Assert.Equal(50, harness.Reopen().Count);
    }

    [Fact]
    public async Task Under_always_the_fsync_stays_on_the_writer_thread()
    {
        var harness = Harness(FsyncPolicy.Always);
        using (var log = harness.Open())
        {
            long position = AppendSet(log, "k", "v");
            _waitingThread = Environment.CurrentManagedThreadId;
            var wait = log.WaitForDurableAsync(position);
            _waitingThread = 0;
            await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(1, log.GetStatistics().Fsyncs);
            Assert.Equal(0, _writesByWaiter + _fsyncsByWaiter);
        }
    }

    [Theory]
    [InlineData(FsyncPolicy.No)]
    [InlineData(FsyncPolicy.EverySecond)]
    public async Task A_write_that_fails_in_the_waiting_thread_is_retried_by_the_writer_and_lands_once(FsyncPolicy policy)
    {
        var harness = Harness(policy);
        using (var log = harness.Open())
        {
            await log.WaitForDurableAsync(AppendSet(log, "before", "ok"));

            _failWrites = true;
            long failed = AppendSet(log, "during", "fails first");
            await Assert.ThrowsAsync<LogWriteException>(async () => await log.WaitForDurableAsync(failed));
            Assert.False(log.IsAcceptingWrites);

            _failWrites = false;
            await LogTestKit.EventuallyAsync(() => log.IsAcceptingWrites, "the writer's retry succeeding");
            Assert.True(log.DurablePosition >= failed);
            await log.WaitForDurableAsync(AppendSet(log, "after", "ok"));
        }

        Assert.Equal(["before", "during", "after"], harness.Reopen().Select(r => r.Key));
    }

    private static long AppendSet(AppendLog log, string key, string value) =>
        log.AppendThenWait(LogRecord.Set(Encoding.ASCII.GetBytes(key), Encoding.ASCII.GetBytes(value), 0, 0, 1, 0));

    private LogHarness Harness(FsyncPolicy policy) => new(_directory.Path)
    {
        Fsync = policy,
        RetryInterval = TimeSpan.FromMilliseconds(20),
        BeforeIo = operation =>
        {
            if (operation == LogIoOperation.Write && Environment.CurrentManagedThreadId == _waitingThread)
            {
                _writesByWaiter++;
            }

            if (operation == LogIoOperation.Fsync && Environment.CurrentManagedThreadId == _waitingThread)
            {
                _fsyncsByWaiter++;
            }

            if (_failWrites && operation == LogIoOperation.Write)
            {
                throw new IOException("No space left on device (injected)");
            }
        },
    };
}
