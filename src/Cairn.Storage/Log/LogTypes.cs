namespace Cairn.Storage.Log;

/// <summary>When an appended record counts as durable (see <see cref="AppendLog.WaitForDurableAsync"/>).</summary>
public enum FsyncPolicy
{
    /// <summary>Published after the batch is written and fsynced: survives power loss.</summary>
    Always,

    /// <summary>Published after the batch is written (survives kill -9); fsynced at least once a second.</summary>
    EverySecond,

    /// <summary>Published after the batch is written; appends are never fsynced (rotation, compaction and close still are).</summary>
    No,
}

/// <summary>The spelling operators type (--fsync always|everysec|no) and read back in logs and stats; one table both ways.</summary>
public static class FsyncPolicyNames
{
    public static string ToFlag(this FsyncPolicy policy) => policy switch
    {
        FsyncPolicy.Always => "always",
        FsyncPolicy.EverySecond => "everysec",
        _ => "no",
    };

    public static bool TryParse(string text, out FsyncPolicy policy)
    {
        foreach (var candidate in Enum.GetValues<FsyncPolicy>())
        {
            if (candidate.ToFlag() == text)
            {
                policy = candidate;
                return true;
            }
        }

        policy = default;
        return false;
    }
}

public enum LogRecordType : byte
{
    Set = 1,
    Delete = 2,
    Touch = 3,
    FlushAll = 4,
    FlushDelayed = 5,
}

/// <summary>
/// One decoded record. The spans point into the reader's buffer and are valid only during the callback.
/// Fields a type does not carry are zero or empty: Set has everything but <see cref="FlushAt"/>; Delete a key;
/// Touch a key and <see cref="ExpiresAt"/>; FlushAll <see cref="Cas"/> (every item stored before the record is gone; the cas keeps CAS values above it);
/// FlushDelayed <see cref="FlushAt"/> (Unix seconds).
/// Snapshot records (written by compaction) number their <see cref="Sequence"/> from 1 within the snapshot.
/// </summary>
public readonly ref struct LogRecord
{
    public LogRecord(LogRecordType type, ulong sequence, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, long flushAt, bool stale = false)
    {
        Stale = stale;
        Type = type;
        Sequence = sequence;
        Key = key;
        Value = value;
        Flags = flags;
        ExpiresAt = expiresAt;
        Cas = cas;
        StoredAt = storedAt;
        FlushAt = flushAt;
    }

    public LogRecordType Type { get; }
    public ulong Sequence { get; }
    public ReadOnlySpan<byte> Key { get; }
    public ReadOnlySpan<byte> Value { get; }
    public uint Flags { get; }
    public long ExpiresAt { get; }
    public ulong Cas { get; }
    public long StoredAt { get; }
    public long FlushAt { get; }

    /// <summary>Set only: the item was invalidated (meta I) and must come back stale.</summary>
    public bool Stale { get; }
}

/// <summary>Receives each record replayed by <see cref="AppendLog.Open"/>, in log order.</summary>
public delegate void LogRecordHandler(scoped in LogRecord record);

/// <summary>Walks the caller's live items into the snapshot; called once per compaction on a pool thread.</summary>
public delegate void SnapshotSource(SnapshotWriter writer);

/// <summary>What <see cref="AppendLog.Open"/> found and did.</summary>
/// <param name="Records">Records replayed (snapshot records included).</param>
/// <param name="Bytes">Bytes of the live segments after recovery, headers included.</param>
/// <param name="Segments">Live segments replayed.</param>
/// <param name="Duration">How long recovery took.</param>
/// <param name="TornBytesRemoved">Bytes cut from the end (torn tail) or, with TruncateAtCorruption, from the damage on.</param>
/// <param name="TornTailSavedAs">Where the cut bytes were copied, when any were cut.</param>
/// <param name="HighestCas">The highest cas in Set and FlushAll records and snapshot headers: start the CAS counter above it.</param>
public readonly record struct RecoveryReport(long Records, long Bytes, int Segments, TimeSpan Duration, long TornBytesRemoved, string? TornTailSavedAs, ulong HighestCas);

public readonly record struct LogStatistics(
    long LogBytes,
    int Segments,
    long Fsyncs,
    long GroupCommits,
    long RecordsWritten,
    double AverageRecordsPerCommit,
    long MaxRecordsPerCommit,
    long WriteErrors,
    string? LastError,
    long Compactions,
    TimeSpan LastCompactionDuration,
    long LiveBytesEstimate,
    TimeSpan RecoveryDuration);
