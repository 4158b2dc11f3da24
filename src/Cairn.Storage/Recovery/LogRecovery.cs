using System.Diagnostics;
using Cairn.Storage.Log;
using Cairn.Storage.Tiering;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Recovery;

/// <summary>What recovery leaves for the log to continue from.</summary>
internal sealed class RecoveredLog(List<SegmentInfo> segments, ulong lastSequence, ulong highestCas, RecoveryReport report)
{
    /// <summary>The manifest's segments in order, with their lengths after any cut.</summary>
    public List<SegmentInfo> Segments { get; } = segments;

    public ulong LastSequence { get; } = lastSequence;

    public ulong HighestCas { get; } = highestCas;

    public RecoveryReport Report { get; } = report;
}

/// <summary>
/// Recovery, run by <see cref="AppendLog.Open"/> with the directory locked: trust MANIFEST, replay its segments in
/// order, decide what damage means, and only then deal with segments MANIFEST does not name: one holding records
/// past the named log stops the start (MANIFEST is older than the data), any other is moved aside, never deleted. Damage with no valid record after it, at the
/// end of the last log segment, is a torn tail (a write cut short by a crash): it is copied aside and cut off.
/// Anything else is mid-log corruption, which only the operator may cut (<see cref="LogOptions.TruncateAtCorruption"/>).
/// </summary>
internal static class LogRecovery
{
    public static RecoveredLog Recover(string directory, LogOptions options, LogRecordHandler replay) =>
        Recover(directory, options, replay, RecoveryEffects.Applied(options));

    /// <summary>Recovery with its changes to the directory made through <paramref name="effects"/>.</summary>
    public static RecoveredLog Recover(string directory, LogOptions options, LogRecordHandler replay, RecoveryEffects effects)
    {
        long started = Stopwatch.GetTimestamp();
        var named = ReadManifest(directory);
        RemoveOwnTempFiles(directory, effects);
        var unnamed = FindUnnamedSegments(directory, named);
        if (named is null && unnamed.Find(path => new FileInfo(path).Length > LogRecordCodec.SegmentHeaderSize) is { } orphan)
        {
            throw LogCorruptionException.Unrecoverable(orphan, 0, $"{orphan} holds log records but {Path.Combine(directory, SegmentFiles.ManifestName)} is missing; refusing to guess which segments are live. Restore the MANIFEST, or move the segments away to start empty.");
        }

        var segments = new List<SegmentInfo>();
        var reader = new SegmentReader();
        var state = new ReplayState();
        long tornBytes = 0;
        string? tornSavedAs = null;
        var ids = named ?? [];
        for (int i = 0; i < ids.Count; i++)
        {
            var path = Path.Combine(directory, SegmentFiles.SegmentName(ids[i]));
            bool isLast = i == ids.Count - 1;
            var outcome = ReplaySegment(path, ids[i], i, isLast, reader, state, replay);
            if (outcome.Damage is not { } damage)
            {
                segments.Add(new SegmentInfo(ids[i], outcome.Kind, path, outcome.Length));
                continue;
            }

            if (damage.IsTornTail)
            {
                // A torn tail is a write that never completed, so never acknowledged.
                tornSavedAs = effects.CutAt(path, damage.Offset, "torn", $"torn tail ({damage.Reason})", mayCutWithoutCopy: true);
                tornBytes += damage.FileLength - damage.Offset;
                segments.Add(new SegmentInfo(ids[i], outcome.Kind, path, damage.Offset));
                continue;
            }

            if (!options.TruncateAtCorruption)
            {
                throw new LogCorruptionException(path, damage.Offset, damage.Reason);
            }

            // The operator allowed the cut: keep the good prefix, move the rest aside (never delete it).
            var allowed = $"corruption ({damage.Reason}), cut as {LogCorruptionException.TruncateFlag} allows";
            if (damage.Offset >= LogRecordCodec.SegmentHeaderSize)
            {
                tornSavedAs = effects.CutAt(path, damage.Offset, "corrupt", allowed, mayCutWithoutCopy: false);
                segments.Add(new SegmentInfo(ids[i], outcome.Kind, path, damage.Offset));
            }
            else if (File.Exists(path))
            {
                tornSavedAs = effects.MoveAside(path, "corrupt", allowed);
            }

            tornBytes += damage.FileLength - Math.Max(damage.Offset, 0);
            for (int j = i + 1; j < ids.Count; j++)
            {
                var later = Path.Combine(directory, SegmentFiles.SegmentName(ids[j]));
                if (File.Exists(later))
                {
                    tornBytes += new FileInfo(later).Length;
                    effects.MoveAside(later, "dropped", "it follows the corruption");
                }
            }

            effects.WriteManifest(directory, segments.Select(s => s.Id));
            break;
        }

        SetAsideUnnamed(directory, unnamed, segments, state, effects);
        BoundAsideCopies(directory, effects);

        var report = new RecoveryReport(
            state.Records,
            segments.Sum(s => s.Length),
            segments.Count,
            Stopwatch.GetElapsedTime(started),
            tornBytes,
            tornSavedAs,
            state.HighestCas);
        return new RecoveredLog(segments, state.LastSequence, state.HighestCas, report);
    }

    /// <summary>The segment ids MANIFEST names, or null when there is no MANIFEST (a fresh directory).</summary>
    private static List<ulong>? ReadManifest(string directory)
    {
        var path = Path.Combine(directory, SegmentFiles.ManifestName);
        if (!File.Exists(path))
        {
            return null;
        }

        var ids = SegmentFiles.DecodeManifest(File.ReadAllText(path), out var problem);
        if (ids is null)
        {
            throw LogCorruptionException.Unrecoverable(path, 0, $"log manifest {path} is damaged: {problem}. It is only ever replaced by an atomic rename, so this is disk damage; restore it from a backup or rewrite it naming the log-*.seg files in order.");
        }

        return ids;
    }

    /// <summary>
    /// Deletes MANIFEST.tmp and log-*.seg.tmp: a manifest or snapshot whose write was interrupted before its rename.
    /// They are this code's own unfinished copies of state the named log still holds, so nothing is lost with them.
    /// </summary>
    private static void RemoveOwnTempFiles(string directory, RecoveryEffects effects)
    {
        bool removed = false;
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            if (SegmentFiles.IsOwnTempFile(Path.GetFileName(path)))
            {
                effects.Remove(path, "an unfinished temp file of an interrupted compaction or manifest switch");
                removed = true;
            }
        }

        if (removed)
        {
            effects.SyncDirectory(directory);
        }
    }

    private static List<string> FindUnnamedSegments(string directory, List<ulong>? named)
    {
        var unnamed = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            if (SegmentFiles.TryParseSegmentName(Path.GetFileName(path), out ulong id) && (named is null || !named.Contains(id)))
            {
                unnamed.Add(path);
            }
        }

        unnamed.Sort(StringComparer.Ordinal);
        return unnamed;
    }

    /// <summary>
    /// Segments MANIFEST does not name are usually an interrupted compaction's or rotation's, but a MANIFEST restored
    /// from an older copy leaves newer data unnamed. One holding records past the named log stops the start with what
    /// to do. Only files that provably add nothing are removed: sealed segments a named snapshot covers and a snapshot
    /// the MANIFEST never switched to (the compaction's own output, finished or abandoned as MANIFEST decided), and a
    /// rotation's fresh segment holding no record. Anything else is renamed aside, never deleted.
    /// </summary>
    private static void SetAsideUnnamed(string directory, List<string> unnamed, List<SegmentInfo> named, ReplayState state, RecoveryEffects effects)
    {
        if (unnamed.Count == 0)
        {
            return;
        }

        ulong firstNamedId = named.Count > 0 ? named[0].Id : 0;
        ulong lastNamedId = named.Count > 0 ? named[^1].Id : 0;
        var found = unnamed.Select(path => (Path: path, Segment: UnnamedSegment.Inspect(path))).ToList();
        foreach (var (path, segment) in found)
        {
            if (segment.LastSequence > state.LastSequence && segment.Records > 0)
            {
                throw LogCorruptionException.Unrecoverable(path, 0, $"{path} is not named in {Path.Combine(directory, SegmentFiles.ManifestName)} but holds {segment.Records} records reaching sequence {segment.LastSequence}, past the named log's {state.LastSequence}: the MANIFEST is older than the segments (restored or copied file by file). "
                    + "Restore the MANIFEST that was copied with this segment; or, to start without these records, move the file out of the data directory.");
            }
        }

        foreach (var (path, segment) in found)
        {
            string? why = segment switch
            {
                { IsSnapshot: false, Id: var id } when named.Count > 0 && named[0].IsSnapshot && id < firstNamedId && segment.LastSequence <= state.SnapshotCovers
                    => "a segment the named snapshot covers, left by a compaction interrupted before it deleted it",
                { IsSnapshot: true } when segment.LastSequence <= state.LastSequence
                    => "a snapshot the MANIFEST was never switched to, left by an interrupted compaction; the named log holds all of it",
                { IsSnapshot: false, Records: 0, Id: var id } when id > lastNamedId && segment.HeaderValid
                    => "a segment created just before a crash, holding no record",
                _ => null,
            };
            if (why is not null)
            {
                effects.Remove(path, why);
                continue;
            }

            effects.MoveAside(path, "unnamed", "it is not named in MANIFEST and holds nothing past the named log");
        }

        effects.SyncDirectory(directory);
    }

    /// <summary>What an unnamed segment holds: its header, and its valid records up to the first damage.</summary>
    private readonly record struct UnnamedSegment(ulong Id, bool HeaderValid, bool IsSnapshot, long Records, ulong LastSequence)
    {
        public static UnnamedSegment Inspect(string path)
        {
            _ = SegmentFiles.TryParseSegmentName(Path.GetFileName(path), out ulong id);
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            long fileLength = RandomAccess.GetLength(handle);
            var reader = new SegmentReader();
            reader.Reset(handle, fileLength);
            if (fileLength < LogRecordCodec.SegmentHeaderSize
                || !LogRecordCodec.TryReadSegmentHeader(reader.Read(0, LogRecordCodec.SegmentHeaderSize), out var header, out _))
            {
                return new UnnamedSegment(id, false, false, 0, 0);
            }

            bool snapshot = header.Kind == LogRecordCodec.KindSnapshot;
            long records = 0;
            ulong last = header.PreviousSequence;
            for (long offset = LogRecordCodec.SegmentHeaderSize; offset + LogRecordCodec.HeaderSize <= fileLength;)
            {
                int length = LogRecordCodec.PeekLength(reader.Read(offset, 8));
                if (length < 0 || offset + length > fileLength || !LogRecordCodec.TryDecode(reader.Read(offset, length), out var record))
                {
                    break;
                }

                records++;
                if (!snapshot)
                {
                    last = Math.Max(last, record.Sequence);
                }

                offset += length;
            }

            // A snapshot's records number from 1 within it; what it covers is in its header.
            return new UnnamedSegment(id, true, snapshot, records, last);
        }
    }

    /// <summary>Torn and corrupt tails are copies recovery made; keep the newest few so crash after crash cannot fill the disk.</summary>
    private static void BoundAsideCopies(string directory, RecoveryEffects effects)
    {
        const int Keep = 8;
        var copies = Directory.EnumerateFiles(directory)
            .Where(path => Path.GetFileName(path).Contains(".seg.torn-", StringComparison.Ordinal))
            .Select(path => new FileInfo(path))
            .OrderByDescending(file => file.LastWriteTimeUtc)
            .ThenByDescending(file => file.Name, StringComparer.Ordinal)
            .Skip(Keep)
            .ToList();
        foreach (var file in copies)
        {
            effects.Remove(file.FullName, $"a torn-tail copy older than the newest {Keep}");
        }
    }

    private static SegmentOutcome ReplaySegment(string path, ulong id, int index, bool isLast, SegmentReader reader, ReplayState state, LogRecordHandler replay)
    {
        if (!File.Exists(path))
        {
            return new SegmentOutcome(LogRecordCodec.KindLog, 0, new Damage(0, 0, "the segment is named in MANIFEST but missing", IsTornTail: false));
        }

        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = RandomAccess.GetLength(handle);
        reader.Reset(handle, fileLength);

        if (fileLength < LogRecordCodec.SegmentHeaderSize)
        {
            return new SegmentOutcome(LogRecordCodec.KindLog, fileLength, new Damage(0, fileLength, "the file is shorter than a segment header", IsTornTail: false));
        }

        if (!LogRecordCodec.TryReadSegmentHeader(reader.Read(0, LogRecordCodec.SegmentHeaderSize), out var header, out var problem))
        {
            return new SegmentOutcome(LogRecordCodec.KindLog, fileLength, new Damage(0, fileLength, problem!, IsTornTail: false));
        }

        if (header.SegmentId != id)
        {
            return new SegmentOutcome(header.Kind, fileLength, new Damage(0, fileLength, $"the header says segment {header.SegmentId:x16}", IsTornTail: false));
        }

        bool snapshot = header.Kind == LogRecordCodec.KindSnapshot;
        if (snapshot && index != 0)
        {
            return new SegmentOutcome(header.Kind, fileLength, new Damage(0, fileLength, "a snapshot that is not first in MANIFEST", IsTornTail: false));
        }

        if (index > 0 && header.PreviousSequence != state.LastSequence)
        {
            return new SegmentOutcome(header.Kind, fileLength, new Damage(0, fileLength, $"the header continues from sequence {header.PreviousSequence}, the previous segment ended at {state.LastSequence}", IsTornTail: false));
        }

        state.HighestCas = Math.Max(state.HighestCas, header.HighestCas);
        if (snapshot)
        {
            state.SnapshotCovers = header.PreviousSequence;
        }

        // Snapshot records count from 1; a log segment continues the log's sequence.
        ulong lastSequence = snapshot ? 0 : header.PreviousSequence;
        long offset = LogRecordCodec.SegmentHeaderSize;
        while (offset < fileLength)
        {
            string? reason = null;
            if (fileLength - offset < LogRecordCodec.HeaderSize)
            {
                reason = "a record header cut short by the end of the file";
            }
            else
            {
                int length = LogRecordCodec.PeekLength(reader.Read(offset, 8));
                if (length < 0)
                {
                    reason = "an impossible record length (zeroed or overwritten bytes)";
                }
                else if (offset + length > fileLength)
                {
                    reason = "a record cut short by the end of the file";
                }
                else
                {
                    var bytes = reader.Read(offset, length);
                    if (!LogRecordCodec.TryDecode(bytes, out var record))
                    {
                        reason = "a record whose checksum or layout does not match";
                    }
                    else if (record.Sequence <= lastSequence)
                    {
                        reason = $"sequence {record.Sequence} does not follow {lastSequence}";
                    }
                    else
                    {
                        var located = record with { Location = DiskLocation.InSegment(id, offset) };
                        replay(in located);
                        lastSequence = record.Sequence;
                        state.Records++;
                        if (record.Type is LogRecordType.Set or LogRecordType.FlushAll)
                        {
                            state.HighestCas = Math.Max(state.HighestCas, record.Cas);
                        }

                        offset += length;
                        continue;
                    }
                }
            }

            // Torn only if this is the last log segment and nothing valid follows; otherwise records after the damage would be lost.
            bool torn = isLast && !snapshot && FindValidRecord(handle, offset + 1, fileLength, lastSequence) < 0;
            state.LastSequence = snapshot ? header.PreviousSequence : lastSequence;
            return new SegmentOutcome(header.Kind, offset, new Damage(offset, fileLength, reason, torn));
        }

        state.LastSequence = snapshot ? header.PreviousSequence : lastSequence;
        return new SegmentOutcome(header.Kind, fileLength, null);
    }

    /// <summary>The offset of the first record at or after <paramref name="from"/> whose header and checksum validate and whose sequence follows; -1 when none does.</summary>
    private static long FindValidRecord(SafeFileHandle handle, long from, long fileLength, ulong afterSequence)
    {
        var window = new byte[1024 * 1024];
        long windowStart = 0;
        int windowLength = 0;
        for (long at = from; at + LogRecordCodec.HeaderSize <= fileLength; at++)
        {
            if (at + LogRecordCodec.HeaderSize > windowStart + windowLength)
            {
                windowStart = at;
                windowLength = SegmentReader.ReadFully(handle, window.AsSpan(0, (int)Math.Min(window.Length, fileLength - at)), at);
            }

            var head = window.AsSpan((int)(at - windowStart), LogRecordCodec.HeaderSize);
            int length = LogRecordCodec.PeekLength(head);
            if (length < 0 || at + length > fileLength || !LogRecordCodec.HasPlausibleShape(head) || LogRecordCodec.ReadSequence(head) <= afterSequence)
            {
                continue;
            }

            ReadOnlySpan<byte> candidate;
            if (at + length <= windowStart + windowLength)
            {
                candidate = window.AsSpan((int)(at - windowStart), length);
            }
            else
            {
                var whole = new byte[length];
                SegmentReader.ReadFully(handle, whole, at);
                candidate = whole;
            }

            if (LogRecordCodec.TryDecode(candidate, out _))
            {
                return at;
            }
        }

        return -1;
    }

    private sealed class ReplayState
    {
        public long Records;
        public ulong LastSequence;
        public ulong HighestCas;

        /// <summary>The sequence a named snapshot covers through; 0 without one.</summary>
        public ulong SnapshotCovers;
    }

    private readonly record struct Damage(long Offset, long FileLength, string Reason, bool IsTornTail);

    private readonly record struct SegmentOutcome(ushort Kind, long Length, Damage? Damage);
}

/// <summary>Reads a segment sequentially through one reusable window, growing it only for records larger than it.</summary>
internal sealed class SegmentReader
{
    private const int DefaultSize = 1024 * 1024;

    private byte[] _buffer = new byte[DefaultSize];
    private SafeFileHandle? _handle;
    private long _fileLength;
    private long _windowStart;
    private int _windowLength;

    public void Reset(SafeFileHandle handle, long fileLength)
    {
        _handle = handle;
        _fileLength = fileLength;
        _windowStart = 0;
        _windowLength = 0;
    }

    /// <summary>The file grew (a log tail following the writer): what is in the window stays valid.</summary>
    public void Extend(long fileLength) => _fileLength = fileLength;

    /// <summary>Bytes [offset, offset + count), which the caller has checked lie inside the file.</summary>
    public ReadOnlySpan<byte> Read(long offset, int count)
    {
        if (offset < _windowStart || offset + count > _windowStart + _windowLength)
        {
            if (count > _buffer.Length)
            {
                _buffer = new byte[count];
            }
            else if (_buffer.Length > DefaultSize && count <= DefaultSize)
            {
                _buffer = new byte[DefaultSize];
            }

            _windowStart = offset;
            _windowLength = ReadFully(_handle!, _buffer.AsSpan(0, (int)Math.Min(_buffer.Length, _fileLength - offset)), offset);
            if (_windowLength < count)
            {
                throw new IOException("the segment became shorter while it was being read");
            }
        }

        return _buffer.AsSpan((int)(offset - _windowStart), count);
    }

    public static int ReadFully(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        int total = 0;
        while (total < destination.Length)
        {
            int read = RandomAccess.Read(handle, destination[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
