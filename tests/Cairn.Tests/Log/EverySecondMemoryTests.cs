using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

public sealed class EverySecondMemoryTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "cairn-everysec-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    /// <summary>
    /// Bytes written since the last fsync are kept for a rewrite after a failed fsync. Under a fast writer
    /// that must not wait for the clock: past a bound the writer fsyncs early, so memory stays bounded.
    /// </summary>
    [Fact]
    public async Task Everysec_fsyncs_early_rather_than_keep_unbounded_unsynced_bytes()
    {
        var options = new LogOptions { Directory = _directory, Fsync = FsyncPolicy.EverySecond, FsyncInterval = TimeSpan.FromHours(1) };
        using var log = AppendLog.Open(options, (scoped in LogRecord _) => { }, out _);
        var value = new string('v', 4000);
        for (var i = 0; i < 6000; i++)
        {
            await log.SetDurablyAsync($"key{i}", value);
        }

        // 24 MB written in thousands of small batches, an hour-long interval: only the byte bound can fsync.
        Assert.True(log.GetStatistics().Fsyncs >= 2, $"{log.GetStatistics().Fsyncs} fsyncs");
    }
}
