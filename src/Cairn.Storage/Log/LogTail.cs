using Cairn.Storage.Recovery;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Log;

/// <summary>The records after a tail's position are no longer in the log: the reader must start over.</summary>
public sealed class LogTailGapException(string message) : IOException(message);

/// <summary>
/// Reads the live log's records in order from a position, following it as it grows: what a primary ships to a
/// replica. Starting after sequence S it reads the log segments from the one holding S + 1; when S is older than the
/// log keeps (compacted into the snapshot) or newer than it has, it starts over from the beginning instead, snapshot
/// records first (<see cref="FullResync"/>). Records are handed out as their on-disk bytes, CRC included, so the
/// receiver checks them with the same code recovery uses. Segments deleted by a compaction meanwhile stay readable
/// through the handles held here.
/// </summary>
public sealed class LogTail : IDisposable
{
    private readonly AppendLog _log;
    private readonly SegmentReader _reader = new();
    private SafeFileHandle? _handle;
    private ulong _segmentId;
    private bool _inSnapshot;
    private long _offset;
    private long _knownLength;
    private ulong _skipThrough;

    private LogTail(AppendLog log)
    {
        _log = log;
    }

    /// <summary>True when the reader starts from the beginning of the log rather than after the asked position.</summary>
    public bool FullResync { get; private set; }

    /// <summary>With <see cref="FullResync"/>, the sequence the snapshot covers through (0 without a snapshot).</summary>
    public ulong SnapshotCovers { get; private set; }

    /// <summary>True while the snapshot of a full resync is being read; false once the log segments after it are.</summary>
    public bool InSnapshot => _inSnapshot;

    /// <summary>The sequence of the last log record handed out (snapshot records do not count).</summary>
    public ulong Position { get; private set; }

    /// <summary>Whether a reader after <paramref name="afterSequence"/> would have to start over (the position was compacted away).</summary>
    public static bool WouldNeedFullResync(AppendLog log, ulong afterSequence)
    {
        ArgumentNullException.ThrowIfNull(log);
        var segments = log.LiveSegments();
        return segments.Count > 0 && segments[0].IsSnapshot && afterSequence < ReadHeader(segments[0].Path).PreviousSequence;
    }

    public static LogTail Open(AppendLog log, ulong afterSequence, bool forceFullResync = false)
    {
        ArgumentNullException.ThrowIfNull(log);
        var tail = new LogTail(log);
        var segments = log.LiveSegments();
        ulong firstAvailable = 0;
        if (segments.Count > 0 && segments[0].IsSnapshot)
        {
            firstAvailable = ReadHeader(segments[0].Path).PreviousSequence;
        }

        bool full = forceFullResync || afterSequence < firstAvailable || afterSequence > log.LastWrittenSequence;
        tail.FullResync = full;
        if (full)
        {
            tail.SnapshotCovers = firstAvailable;
            tail._skipThrough = firstAvailable;
            tail.Position = firstAvailable;
            if (segments.Count > 0)
            {
                tail.OpenSegment(segments[0].Id, segments[0].Path, segments[0].IsSnapshot);
            }
        }
        else
        {
            tail._skipThrough = afterSequence;
            tail.Position = afterSequence;
            var first = segments.LastOrDefault(s => !s.IsSnapshot && ReadHeader(s.Path).PreviousSequence <= afterSequence);
            if (first.Path is not null)
            {
                tail.OpenSegment(first.Id, first.Path, isSnapshot: false);
            }
        }

        return tail;
    }

    /// <summary>
    /// The next whole record, if one has been written; false when the reader has caught up with the writer (try again
    /// later). <paramref name="fromSnapshot"/> marks snapshot records, whose sequence numbers count within the snapshot.
    /// </summary>
    public bool TryReadNext(out ReadOnlySpan<byte> record, out bool fromSnapshot)
    {
        record = default;
        fromSnapshot = false;
        while (_handle is not null)
        {
            long length = _knownLength;
            if (_offset + LogRecordCodec.HeaderSize <= length)
            {
                int recordLength = LogRecordCodec.PeekLength(_reader.Read(_offset, 8));
                if (recordLength > 0 && _offset + recordLength <= length)
                {
                    var bytes = _reader.Read(_offset, recordLength);
                    if (LogRecordCodec.TryDecode(bytes, out var decoded))
                    {
                        _offset += recordLength;
                        if (_inSnapshot)
                        {
                            record = bytes;
                            fromSnapshot = true;
                            return true;
                        }

                        if (decoded.Sequence <= _skipThrough)
                        {
                            continue;
                        }

                        Position = decoded.Sequence;
                        record = bytes;
                        return true;
                    }

                    // Read while the writer was still writing it: drop the window so the next look reads the disk again.
                    _reader.Reset(_handle, _knownLength);
                }
            }

            // Out of known bytes: the writer may have added some (one length query per catch-up, not per record).
            long grown = RandomAccess.GetLength(_handle);
            if (grown > _knownLength)
            {
                _knownLength = grown;
                _reader.Extend(grown);
                continue;
            }

            // Caught up with this segment: move on only once a later log segment exists (this one is then sealed).
            var next = _log.LiveSegments().Where(s => s.Id > _segmentId && !s.IsSnapshot).OrderBy(s => s.Id).FirstOrDefault();
            if (next.Path is null || (!_inSnapshot && HasMoreBytes()))
            {
                return false;
            }

            OpenContinuing(next.Id, next.Path);
        }

        // No log segment yet held the position: look again, one may have been created since.
        var first = _log.LiveSegments().Where(s => !s.IsSnapshot).OrderBy(s => s.Id).FirstOrDefault();
        if (first.Path is not null)
        {
            OpenContinuing(first.Id, first.Path);
        }

        return false;
    }

    /// <summary>
    /// Moves on to a log segment only if it continues from what was read: a compaction that removed the segments in
    /// between (the reader held only the one it was in) would otherwise make the reader skip their records unseen.
    /// </summary>
    private void OpenContinuing(ulong id, string path)
    {
        var previous = ReadHeader(path).PreviousSequence;
        if (previous > Position)
        {
            throw new LogTailGapException($"the log was compacted past sequence {Position} while it was being read (the next segment starts after {previous}); start again from a full resync");
        }

        OpenSegment(id, path, isSnapshot: false);
    }

    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }

    /// <summary>Whether the current segment holds bytes past the reader (a record still being written, or damage).</summary>
    private bool HasMoreBytes() => _handle is not null && RandomAccess.GetLength(_handle) > _offset;

    private void OpenSegment(ulong id, string path, bool isSnapshot)
    {
        _handle?.Dispose();
        _handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _segmentId = id;
        _inSnapshot = isSnapshot;
        _offset = LogRecordCodec.SegmentHeaderSize;
        _knownLength = RandomAccess.GetLength(_handle);
        _reader.Reset(_handle, _knownLength);
    }

    private static SegmentHeader ReadHeader(string path)
    {
        Span<byte> header = stackalloc byte[LogRecordCodec.SegmentHeaderSize];
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        SegmentReader.ReadFully(handle, header, 0);
        return LogRecordCodec.TryReadSegmentHeader(header, out var decoded, out var problem)
            ? decoded
            : throw new IOException($"{path}: {problem}");
    }
}

/// <summary>Decodes a record handed out by <see cref="LogTail"/> (or received from one), checking its CRC.</summary>
public static class LogRecords
{
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out LogRecord record) => LogRecordCodec.TryDecode(bytes, out record);

    /// <summary>The record's length from its first 8 bytes, or -1 when they cannot start a record.</summary>
    public static int PeekLength(ReadOnlySpan<byte> header) => header.Length < 8 ? -1 : LogRecordCodec.PeekLength(header);

    public const int HeaderSize = LogRecordCodec.HeaderSize;
}
