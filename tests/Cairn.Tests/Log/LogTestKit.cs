using System.Text;
using Cairn.Storage.Log;
using Cairn.Tests.Support;

namespace Cairn.Tests.Log;

/// <summary>A replayed record, copied out of the callback's spans.</summary>
internal sealed record Replayed(LogRecordType Type, ulong Sequence, string Key, byte[] Value, uint Flags, long ExpiresAt, ulong Cas, long StoredAt, long FlushAt)
{
    public static Replayed From(scoped in LogRecord record) => new(
        record.Type,
        record.Sequence,
        Encoding.ASCII.GetString(record.Key),
        record.Value.ToArray(),
        record.Flags,
        record.ExpiresAt,
        record.Cas,
        record.StoredAt,
        record.FlushAt);

    public string Text => Encoding.ASCII.GetString(Value);
}

/// <summary>A temporary data directory, deleted with everything in it.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cairn-log-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>File names in the directory, sorted.</summary>
    public string[] Names() => [.. Directory.GetFiles(Path).Select(f => System.IO.Path.GetFileName(f)!).Order(StringComparer.Ordinal)];

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Opens logs the way the tests need them and records what was replayed and logged.</summary>
internal sealed class LogHarness
{
    public LogHarness(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }
    public FsyncPolicy Fsync { get; init; } = FsyncPolicy.Always;
    public long SegmentSize { get; init; } = LogOptions.DefaultSegmentSize;
    public bool TruncateAtCorruption { get; init; }
    public Action<LogIoOperation>? BeforeIo { get; init; }
    public Action<string>? CrashPoint { get; init; }
    public TimeSpan RetryInterval { get; init; } = TimeSpan.FromMilliseconds(20);
    public TimeSpan FsyncInterval { get; init; } = TimeSpan.FromSeconds(1);
    public List<string> Lines { get; } = [];
    public List<Replayed> Replayed { get; } = [];
    public RecoveryReport Report { get; private set; }

    public LogOptions Options => new()
    {
        Directory = Directory,
        Fsync = Fsync,
        SegmentSize = SegmentSize,
        TruncateAtCorruption = TruncateAtCorruption,
        Time = new ManualTimeProvider(),
        Logger = new LineCollector(Lines),
        BeforeIo = BeforeIo,
        CrashPoint = CrashPoint ?? (_ => { }),
        RetryInterval = RetryInterval,
        FsyncInterval = FsyncInterval,
    };

    public AppendLog Open()
    {
        Replayed.Clear();
        var log = AppendLog.Open(Options, (scoped in LogRecord record) => Replayed.Add(Log.Replayed.From(record)), out var report);
        Report = report;
        return log;
    }

    /// <summary>Opens, collects the replay, and closes again.</summary>
    public List<Replayed> Reopen()
    {
        using (Open())
        {
        }

        return [.. Replayed];
    }
}

internal static class LogTestKit
{
    public static byte[] Bytes(string text) => Encoding.ASCII.GetBytes(text);

    public static long Set(this AppendLog log, string key, string value, ulong cas = 0, uint flags = 0, long expiresAt = 0, long storedAt = 0) =>
        log.Append(LogRecord.Set(Bytes(key), Bytes(value), flags, expiresAt, cas, storedAt));

    public static long Delete(this AppendLog log, string key) => log.Append(LogRecord.Delete(Bytes(key)));

    public static async Task<long> SetDurablyAsync(this AppendLog log, string key, string value, ulong cas = 0)
    {
        long position = log.Set(key, value, cas);
        await log.WaitForDurableAsync(position);
        return position;
    }

    /// <summary>The single segment file of a log that never rotated.</summary>
    public static string OnlySegment(string directory) => System.IO.Directory.GetFiles(directory, "log-*.seg").Single();

    /// <summary>Copies every file of one directory into another (a pristine log to damage in many ways).</summary>
    public static void CopyDirectory(string from, string to)
    {
        System.IO.Directory.CreateDirectory(to);
        foreach (var file in System.IO.Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
        }
    }

    /// <summary>Waits (without asserting on timing) until the condition holds or a generous deadline passes.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("never happened: " + what);
            }

            await Task.Delay(10);
        }
    }
}

/// <summary>
/// What a store holds after a sequence of records, with the log's replay semantics: Set is absolute, Touch changes
/// the expiry of a present item, FlushAll drops items whose cas is at most its threshold, FlushDelayed is a setting.
/// </summary>
internal sealed class LogModel
{
    public SortedDictionary<string, (string Value, uint Flags, long ExpiresAt, ulong Cas, long StoredAt)> Items { get; } = new(StringComparer.Ordinal);

    public long FlushAt { get; set; }

    public static LogModel From(IEnumerable<Replayed> records)
    {
        var model = new LogModel();
        foreach (var record in records)
        {
            model.Apply(record);
        }

        return model;
    }

    public void Apply(Replayed record)
    {
        switch (record.Type)
        {
            case LogRecordType.Set:
                Items[record.Key] = (record.Text, record.Flags, record.ExpiresAt, record.Cas, record.StoredAt);
                break;
            case LogRecordType.Delete:
                Items.Remove(record.Key);
                break;
            case LogRecordType.Touch:
                if (Items.TryGetValue(record.Key, out var item))
                {
                    Items[record.Key] = item with { ExpiresAt = record.ExpiresAt };
                }

                break;
            case LogRecordType.FlushAll:
                foreach (var key in Items.Where(pair => pair.Value.Cas <= record.Cas).Select(pair => pair.Key).ToList())
                {
                    Items.Remove(key);
                }

                break;
            case LogRecordType.FlushDelayed:
                FlushAt = record.FlushAt;
                break;
        }
    }

    /// <summary>The snapshot a store would write: every live item, then the pending delayed flush.</summary>
    public void WriteSnapshot(SnapshotWriter writer)
    {
        foreach (var (key, item) in Items)
        {
            writer.WriteSet(LogTestKit.Bytes(key), LogTestKit.Bytes(item.Value), item.Flags, item.ExpiresAt, item.Cas, item.StoredAt);
        }

        if (FlushAt != 0)
        {
            writer.WriteFlushDelayed(FlushAt);
        }
    }

    public string Describe() =>
        string.Join("\n", Items.Select(pair => $"{pair.Key}={pair.Value}")) + $"\nflushAt={FlushAt}";
}

/// <summary>
/// Seeded random operations against a log and a model together, with the store's discipline: the model change and
/// the append happen under one lock (the shard lock), the wait for durability after it.
/// </summary>
internal sealed class RandomWorkload(int seed, int keys = 40)
{
    private readonly Random _random = new(seed);
    private ulong _cas;

    public LogModel Model { get; } = new();

    public object Gate { get; } = new();

    public async Task RunAsync(AppendLog log, int operations)
    {
        for (int i = 0; i < operations; i++)
        {
            long position = Step(log);
            await log.WaitForDurableAsync(position);
        }
    }

    /// <summary>One random operation, appended (when there is a log: without one only the model moves); returns its position.</summary>
    public long Step(AppendLog? log)
    {
        lock (Gate)
        {
            string key = "key-" + _random.Next(keys);
            int roll = _random.Next(100);
            Replayed record;
            long position;
            if (roll < 60)
            {
                var value = "v" + _random.Next() + new string('x', _random.Next(0, 300));
                record = new Replayed(LogRecordType.Set, 0, key, LogTestKit.Bytes(value), (uint)_random.Next(), _random.Next(0, 1000), ++_cas, 1_700_000_000 + _random.Next(1000), 0);
                position = log?.Append(LogRecord.Set(LogTestKit.Bytes(key), record.Value, record.Flags, record.ExpiresAt, record.Cas, record.StoredAt)) ?? 0;
            }
            else if (roll < 80)
            {
                record = new Replayed(LogRecordType.Delete, 0, key, [], 0, 0, 0, 0, 0);
                position = log?.Append(LogRecord.Delete(LogTestKit.Bytes(key))) ?? 0;
            }
            else if (roll < 92 && Model.Items.ContainsKey(key))
            {
                record = new Replayed(LogRecordType.Touch, 0, key, [], 0, _random.Next(1, 5000), 0, 0, 0);
                position = log?.Append(LogRecord.Touch(LogTestKit.Bytes(key), record.ExpiresAt)) ?? 0;
            }
            else if (roll < 96)
            {
                record = new Replayed(LogRecordType.FlushAll, 0, "", [], 0, 0, _cas - Math.Min(_cas, (ulong)_random.Next(0, 5)), 0, 0);
                position = log?.Append(LogRecord.FlushAll(record.Cas)) ?? 0;
            }
            else
            {
                record = new Replayed(LogRecordType.FlushDelayed, 0, "", [], 0, 0, 0, 0, 1_700_000_000 + _random.Next(100_000));
                position = log?.Append(LogRecord.FlushDelayed(record.FlushAt)) ?? 0;
            }

            Model.Apply(record);
            return position;
        }
    }

    public void WriteSnapshot(SnapshotWriter writer)
    {
        lock (Gate)
        {
            Model.WriteSnapshot(writer);
        }
    }
}

/// <summary>An ILogger that keeps each formatted message, so tests read what the storage layer said.</summary>
internal sealed class LineCollector(List<string> lines) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (lines)
        {
            lines.Add(formatter(state, exception));
        }
    }
}
