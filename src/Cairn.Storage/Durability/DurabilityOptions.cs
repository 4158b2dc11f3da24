using Cairn.Storage.Log;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Storage.Durability;

public sealed class DurabilityOptions
{
    public required string DataDirectory { get; init; }

    public const long DefaultCompactMinimumBytes = 64L * 1024 * 1024;

    public const double DefaultCompactDeadRatio = 0.5;

    public FsyncPolicy Fsync { get; init; } = LogOptions.DefaultFsync;

    public long SegmentSize { get; init => field = OptionValue.AtLeast(value, 1); } = LogOptions.DefaultSegmentSize;

    public bool TruncateAtCorruption { get; init; }

    /// <summary>Background compaction starts once the log is at least this big...</summary>
    public long CompactMinimumBytes { get; init => field = OptionValue.AtLeast(value, 1); } = DefaultCompactMinimumBytes;

    /// <summary>...and at least this fraction of it is dead (overwritten, deleted, expired).</summary>
    public double CompactDeadRatio { get; init => field = OptionValue.Between(value, 0, 1); } = DefaultCompactDeadRatio;

    /// <summary>
    /// --disk-limit: once the log's segments hold this many bytes, writes are refused (0: only a full disk refuses them).
    /// Compaction starts before the limit when it would reclaim anything worth having.
    /// </summary>
    public long DiskLimit { get; init => field = OptionValue.AtLeast(value, 0); }

    public TimeSpan CompactCheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public ILogger Logger { get; init; } = NullLogger.Instance;
}
