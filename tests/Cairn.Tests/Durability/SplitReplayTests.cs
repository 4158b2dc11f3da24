using System.Text;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;
using Cairn.Storage.Recovery;
using Cairn.Tests.Storage;

namespace Cairn.Tests.Durability;

/// <summary>Replay on two threads must leave exactly the store that replay on one thread leaves.</summary>
public sealed class SplitReplayTests
{
    private const int Keys = 2_000;

    [Fact]
    public void Two_threads_leave_the_same_items_as_one_with_overwrites_deletes_touches_flushes_and_a_record_larger_than_a_batch()
    {
        var records = Script();
        using var sequential = StoreTestKit.Create(memoryLimit: 256L * 1024 * 1024, maxItemSize: 8 * 1024 * 1024);
        using var split = StoreTestKit.Create(memoryLimit: 256L * 1024 * 1024, maxItemSize: 8 * 1024 * 1024);

        foreach (var record in records)
        {
            record.ApplyTo((scoped in LogRecord rec) => DurableStore.Apply(sequential, rec));
        }

        using (var replay = new SplitReplay(split, (scoped in LogRecord rec) => DurableStore.Apply(split, rec)))
        {
            foreach (var record in records)
            {
                record.ApplyTo(replay.Apply);
            }

            replay.Complete();
        }

        var live = 0;
        for (var i = 0; i < Keys; i++)
        {
            var expected = sequential.Read($"key:{i}");
            var actual = split.Read($"key:{i}");
            Assert.Equal(expected is null, actual is null);
            if (expected is not null)
            {
                live++;
                Assert.Equal((expected.Text, expected.Flags, expected.ExpiresAt, expected.Cas), (actual!.Text, actual.Flags, actual.ExpiresAt, actual.Cas));
            }
        }

        Assert.Equal(sequential.Read("big")!.Value.Length, split.Read("big")!.Value.Length);

        // The script leaves both kinds: keys written after the flush, and keys deleted or flushed for good.
        Assert.InRange(live, Keys / 4, Keys - 1);
        Assert.Equal(sequential.GetStatistics().CurrentItems, split.GetStatistics().CurrentItems);
    }

    [Fact]
    public void A_failure_on_the_helper_thread_is_reported_not_lost()
    {
        using var store = StoreTestKit.Create();
        var replay = new SplitReplay(store, (scoped in LogRecord rec) =>
        {
            if (store.PartitionOf(rec.Key, 2) == 1)
            {
                throw new InvalidOperationException("cannot store");
            }
        });

        var error = Assert.Throws<InvalidOperationException>(() =>
        {
            using (replay)
            {
                for (var i = 0; i < 100; i++)
                {
                    new ScriptRecord(LogRecordType.Set, (ulong)i + 1, $"key:{i}", "v", 0, 0).ApplyTo(replay.Apply);
                }

                replay.Complete();
            }
        });
        Assert.Contains("cannot store", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Several rounds over the same keys, a flush in the middle, a delayed flush and one 5 MiB value.</summary>
    private static List<ScriptRecord> Script()
    {
        var random = new Random(1234);
        var records = new List<ScriptRecord>();
        ulong sequence = 0;
        for (var round = 0; round < 6; round++)
        {
            for (var n = 0; n < Keys; n++)
            {
                var key = $"key:{random.Next(Keys)}";
                sequence++;
                records.Add(random.Next(10) switch
                {
                    0 => new ScriptRecord(LogRecordType.Delete, sequence, key, "", 0, 0),
                    1 => new ScriptRecord(LogRecordType.Touch, sequence, key, "", 0, 4_000_000_000 + n),
                    _ => new ScriptRecord(LogRecordType.Set, sequence, key, $"r{round}n{n}", (uint)round, 0),
                });
            }

            if (round == 2)
            {
                records.Add(new ScriptRecord(LogRecordType.FlushAll, ++sequence, "", "", 0, 0));
                records.Add(new ScriptRecord(LogRecordType.Set, ++sequence, "big", new string('b', 5 * 1024 * 1024), 0, 0));
            }
        }

        return records;
    }

    private sealed record ScriptRecord(LogRecordType Type, ulong Sequence, string Key, string Value, uint Flags, long ExpiresAt)
    {
        public void ApplyTo(LogRecordHandler handler)
        {
            var record = new LogRecord(Type, Sequence, Encoding.ASCII.GetBytes(Key), Encoding.ASCII.GetBytes(Value), Flags, ExpiresAt,
                cas: Sequence, storedAt: 1_700_000_000, flushAt: 0);
            handler(in record);
        }
    }
}
