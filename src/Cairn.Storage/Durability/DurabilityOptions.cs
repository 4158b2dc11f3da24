using Cairn.Storage.Log;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Storage.Durability;

public sealed class DurabilityOptions
{
    public required string DataDirectory { get; init; }

    public FsyncPolicy Fsync { get; init; } = FsyncPolicy.EverySecond;

    public long SegmentSize { get; init; } = 64L * 1024 * 1024;

    public bool TruncateAtCorruption { get; init; }

    /// <summary>Background compaction starts once the log is at least this big...</summary>
    public long CompactMinimumBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>...and at least this fraction of it is dead (overwritten, deleted, expired).</summary>
    public double CompactDeadRatio { get; init; } = 0.5;

    public TimeSpan CompactCheckInterval { get; init; } = TimeSpan.FromSeconds(10);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    public ILogger Logger { get; init; } = NullLogger.Instance;
}
