using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

/// <summary>The reader a primary ships its log with: it never skips a record, even when a compaction outruns it.</summary>
public sealed class LogTailTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_tail_reads_every_record_in_order_across_segments_and_follows_new_ones()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        using var log = harness.Open();
        for (int i = 1; i <= 200; i++)
        {
            await log.SetDurablyAsync($"k{i}", new string('v', 50));
        }

        using var tail = LogTail.Open(log, afterSequence: 10);
        Assert.False(tail.FullResync);
        var sequences = ReadAll(tail);
        Assert.Equal(Enumerable.Range(11, 190).Select(i => (ulong)i), sequences);

        await log.SetDurablyAsync("later", "x");
        Assert.Equal([201ul], ReadAll(tail));
    }

    [Fact]
    public async Task A_compaction_that_removes_segments_the_tail_has_not_reached_ends_it_with_a_gap_instead_of_a_skip()
    {
        var harness = new LogHarness(_directory.Path) { SegmentSize = 4096 };
        using var log = harness.Open();
        for (int i = 1; i <= 200; i++)
        {
            await log.SetDurablyAsync($"k{i}", new string('v', 50));
        }

        Assert.True(log.GetStatistics().Segments > 3);
        using var tail = LogTail.Open(log, afterSequence: 0);
        Assert.True(tail.TryReadNext(out _, out _));

        // The reader holds the first segment open; the ones after it are compacted away under it.
        await log.CompactAsync(writer =>
        {
            for (int i = 1; i <= 200; i++)
            {
                writer.WriteSet(LogTestKit.Bytes($"k{i}"), LogTestKit.Bytes(new string('v', 50)), 0, 0, (ulong)i, 0);
            }
        });
        await log.SetDurablyAsync("after", "x");

        var read = new List<ulong>();
        var gap = Assert.Throws<LogTailGapException>(() =>
        {
            while (tail.TryReadNext(out var record, out _))
            {
                Assert.True(LogRecords.TryDecode(record, out var decoded));
                read.Add(decoded.Sequence);
            }
        });

        // Whatever it handed out before the gap was contiguous; nothing past a missing record was.
        Assert.Equal(Enumerable.Range(2, read.Count).Select(i => (ulong)i), read);
        Assert.Contains("compacted past sequence", gap.Message, StringComparison.Ordinal);
        Assert.True(LogTail.WouldNeedFullResync(log, (ulong)read.Count + 1));
    }

    private static List<ulong> ReadAll(LogTail tail)
    {
        var sequences = new List<ulong>();
        while (tail.TryReadNext(out var record, out var fromSnapshot))
        {
            Assert.False(fromSnapshot);
            Assert.True(LogRecords.TryDecode(record, out var decoded));
            sequences.Add(decoded.Sequence);
        }

        return sequences;
    }
}
