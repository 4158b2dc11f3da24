using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
namespace Cairn.Storage.Log;

public sealed class LogOptions
{
    public const long DefaultSegmentSize = 64L * 1024 * 1024;

    /// <summary>A power cut may lose about a second; kill -9 loses nothing acknowledged (see README: durability).</summary>
    public const FsyncPolicy DefaultFsync = FsyncPolicy.EverySecond;

    /// <summary>The data directory; created when missing. Holds LOCK, MANIFEST and the segments.</summary>
    public required string Directory { get; init; }

    public FsyncPolicy Fsync { get; init; } = DefaultFsync;

    /// <summary>A new segment starts once the current one passes this many bytes (at a batch boundary).</summary>
    public long SegmentSize { get; init => field = OptionValue.AtLeast(value, 1); } = DefaultSegmentSize;

    /// <summary>
    /// The operator's explicit permission (--truncate-corrupt-log) to cut the log at mid-log damage: the damaged
    /// bytes and every later segment are moved aside, not deleted, and the good prefix is kept.
    /// </summary>
    public bool TruncateAtCorruption { get; init; }

    /// <summary>Names torn-tail copies (Unix seconds) and measures intervals.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// The caller's live data in log bytes, for <see cref="AppendLog.LiveBytesEstimate"/> and the dead-byte share that
    /// decides compaction. A live item's Set record is 48 + key + value bytes, which is what SlabItemStore's Bytes
    /// statistic counts. Without it the log cannot tell dead bytes from live ones.
    /// </summary>
    public Func<long>? LiveBytes { get; init; }

    /// <summary>Where notable events go (torn tail cut, stray file removed, write failure and recovery, compaction): <see cref="StorageLog"/>.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>How long the writer waits before retrying a failed write or fsync.</summary>
    internal TimeSpan RetryInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The EverySecond policy's fsync interval.</summary>
    internal TimeSpan FsyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Fault injection: called before every file operation; a test makes one fail by throwing an IOException.</summary>
    internal Action<LogIoOperation>? BeforeIo { get; init; }

    /// <summary>Called at each named crash point; the default kills the process when CAIRN_CRASH_AT names the point.</summary>
    internal Action<string> CrashPoint { get; init; } = CrashPoints.Default;
}

/// <summary>The file operations the fault-injection hook sees.</summary>
internal enum LogIoOperation
{
    Write,
    Fsync,
    CreateSegment,
    WriteManifest,
    WriteSnapshot,
}
