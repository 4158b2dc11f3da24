using Microsoft.Extensions.Logging;

namespace Cairn.Storage.Log;

/// <summary>
/// The storage layer's log events (ids 100-199, stable: operators alert on them). Recovery's changes to the data
/// directory are warnings, since each means a crash or damage happened; compaction's routine result is information.
/// </summary>
internal static partial class StorageLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "removed {Path} ({Bytes} bytes): {Why}")]
    public static partial void RecoveryRemoved(ILogger logger, string path, long bytes, string why);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "{Path} ({Bytes} bytes) moved aside as {Aside}: {Why}")]
    public static partial void RecoveryMovedAside(ILogger logger, string path, long bytes, string aside, string why);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "{Why} in {Path}: {Bytes} bytes after offset {Offset} copied to {Aside} and cut; the log continues from the last good record")]
    public static partial void RecoveryCut(ILogger logger, string why, string path, long bytes, long offset, string aside);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "{Why} in {Path}: {Bytes} bytes after offset {Offset} could not be copied aside ({Reason}); cut without a copy. First bytes: {FirstBytes}")]
    public static partial void RecoveryCutWithoutCopy(ILogger logger, string why, string path, long bytes, long offset, string reason, string firstBytes);

    [LoggerMessage(EventId = 110, Level = LogLevel.Error, Message = "{Failure}; refusing writes and retrying every {RetrySeconds} s")]
    public static partial void WritesFailing(ILogger logger, string failure, double retrySeconds);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "writes to {Path} succeed again; accepting writes")]
    public static partial void WritesRecovered(ILogger logger, string path);

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "compacted {Segments} segment(s), {RemovedBytes} bytes, into a {SnapshotBytes}-byte snapshot of {Records} records (segment {SnapshotId:x16})")]
    public static partial void Compacted(ILogger logger, int segments, long removedBytes, long snapshotBytes, long records, ulong snapshotId);

    [LoggerMessage(EventId = 121, Level = LogLevel.Error, Message = "compaction failed, the log is unchanged: {Reason}")]
    public static partial void CompactionFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Warning, Message = "compaction could not delete every sealed segment ({Reason}); the next open removes them")]
    public static partial void CompactionLeftSegments(ILogger logger, string reason);

    [LoggerMessage(EventId = 123, Level = LogLevel.Error, Message = "background compaction failed: {Reason}")]
    public static partial void BackgroundCompactionFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 130, Level = LogLevel.Error, Message = "reading a value kept on disk from segment {SegmentId:x16} at offset {Offset} failed: {Reason}; the get answers a miss")]
    public static partial void ColdReadFailed(ILogger logger, ulong segmentId, long offset, string reason);

    [LoggerMessage(EventId = 131, Level = LogLevel.Error, Message = "the value of a key kept on disk is damaged at {Location:x16} ({Reason}); it is not served, the get answers a miss")]
    public static partial void ColdValueDamaged(ILogger logger, long location, string reason);
}
