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
/// A record built to be appended (<see cref="Set"/>, <see cref="Delete"/>, ...) leaves the sequence to the log.
/// </summary>
public readonly ref struct LogRecord : IAppendableRecord
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

    /// <summary>Where the record lies on disk when it was read from or appended to this log (<see cref="Tiering.DiskLocation"/>); 0 otherwise.</summary>
    public long Location { get; init; }

    public int EncodedLength
    {
        get
        {
            switch (Type)
            {
                case LogRecordType.Set:
                    LogRecordCodec.ValidateKey(Key);
                    LogRecordCodec.ValidateValue(Value.Length);
                    return LogRecordCodec.SetLength(Key.Length, Value.Length);
                case LogRecordType.Delete:
                    LogRecordCodec.ValidateKey(Key);
                    return LogRecordCodec.HeaderSize + Key.Length;
                case LogRecordType.Touch:
                    LogRecordCodec.ValidateKey(Key);
                    return LogRecordCodec.TouchFixedSize + Key.Length;
                case LogRecordType.FlushAll or LogRecordType.FlushDelayed:
                    return LogRecordCodec.FlushSize;
                default:
                    throw new ArgumentOutOfRangeException(nameof(Type), Type, "not a record type this log writes");
            }
        }
    }

    public ulong CarriedCas => Type is LogRecordType.Set or LogRecordType.FlushAll ? Cas : 0;

    public static LogRecord Set(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale = false) =>
        new(LogRecordType.Set, 0, key, value, flags, expiresAt, cas, storedAt, 0, stale);

    public static LogRecord Delete(ReadOnlySpan<byte> key) => new(LogRecordType.Delete, 0, key, default, 0, 0, 0, 0, 0);

    public static LogRecord Touch(ReadOnlySpan<byte> key, long expiresAt) => new(LogRecordType.Touch, 0, key, default, 0, expiresAt, 0, 0, 0);

    /// <summary>An immediate flush_all: replay drops every item stored before it; CAS values stay above <paramref name="casUpTo"/>.</summary>
    public static LogRecord FlushAll(ulong casUpTo) => new(LogRecordType.FlushAll, 0, default, default, 0, 0, casUpTo, 0, 0);

    /// <summary>flush_all with a delay: items stored before <paramref name="flushAtUnixSeconds"/> die once that moment comes.</summary>
    public static LogRecord FlushDelayed(long flushAtUnixSeconds) => new(LogRecordType.FlushDelayed, 0, default, default, 0, 0, 0, 0, flushAtUnixSeconds);

    public void Encode(Span<byte> destination, ulong sequence)
    {
        switch (Type)
        {
            case LogRecordType.Set:
                LogRecordCodec.WriteSet(destination, sequence, Key, Value, Flags, ExpiresAt, Cas, StoredAt, Stale);
                break;
            case LogRecordType.Delete:
                LogRecordCodec.WriteDelete(destination, sequence, Key);
                break;
            case LogRecordType.Touch:
                LogRecordCodec.WriteTouch(destination, sequence, Key, ExpiresAt);
                break;
            case LogRecordType.FlushAll:
                LogRecordCodec.WriteFlush(destination, sequence, LogRecordType.FlushAll, Cas);
                break;
            default:
                LogRecordCodec.WriteFlush(destination, sequence, LogRecordType.FlushDelayed, (ulong)FlushAt);
                break;
        }
    }
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
