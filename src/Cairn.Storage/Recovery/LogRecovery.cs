using System.Diagnostics;
using Cairn.Storage.Log;
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
/// Recovery, run by <see cref="AppendLog.Open"/> with the directory locked: trust MANIFEST, delete what it does not
/// name, replay its segments in order, and decide what damage means. Damage with no valid record after it, at the
/// end of the last log segment, is a torn tail (a write cut short by a crash): it is copied aside and cut off.
/// Anything else is mid-log corruption, which only the operator may cut (<see cref="LogOptions.TruncateAtCorruption"/>).
/// </summary>
internal static class LogRecovery
{
    public static RecoveredLog Recover(string directory, LogOptions options, LogRecordHandler replay)
    {
        long started = Stopwatch.GetTimestamp();
        var named = ReadManifest(directory);
        RemoveStrays(directory, named, options.Log);

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
                tornSavedAs = MoveAside(path, damage.Offset, "torn", options.Time);
                tornBytes += damage.FileLength - damage.Offset;
                options.Log?.Invoke($"cairn log: torn tail in {path}: {damage.FileLength - damage.Offset} bytes after offset {damage.Offset} ({damage.Reason}) copied to {tornSavedAs} and cut; the log continues from the last good record");
                segments.Add(new SegmentInfo(ids[i], outcome.Kind, path, damage.Offset));
                continue;
            }

            if (!options.TruncateAtCorruption)
            {
                throw new LogCorruptionException(path, damage.Offset, damage.Reason);
            }

            // The operator allowed the cut: keep the good prefix, move the rest aside (never delete it).
            if (damage.Offset >= LogRecordCodec.SegmentHeaderSize)
            {
                tornSavedAs = MoveAside(path, damage.Offset, "corrupt", options.Time);
                segments.Add(new SegmentInfo(ids[i], outcome.Kind, path, damage.Offset));
            }
            else if (File.Exists(path))
            {
                tornSavedAs = SegmentFiles.AsideName(path, "corrupt", options.Time);
                File.Move(path, tornSavedAs);
            }

            tornBytes += damage.FileLength - Math.Max(damage.Offset, 0);
            options.Log?.Invoke($"cairn log: corruption in {path} at offset {damage.Offset} ({damage.Reason}); cut there as {LogCorruptionException.TruncateFlag} allows, damaged bytes saved as {tornSavedAs}");
            for (int j = i + 1; j < ids.Count; j++)
            {
                var later = Path.Combine(directory, SegmentFiles.SegmentName(ids[j]));
                if (File.Exists(later))
                {
                    var aside = SegmentFiles.AsideName(later, "dropped", options.Time);
                    File.Move(later, aside);
                    tornBytes += new FileInfo(aside).Length;
                    options.Log?.Invoke($"cairn log: {later} follows the corruption; moved aside as {aside}");
                }
            }

            SegmentFiles.WriteManifest(directory, segments.Select(s => s.Id), options.BeforeIo);
            break;
        }

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
    /// Deletes leftovers of interrupted operations: temp files, and segments the manifest does not name (a snapshot
    /// whose compaction crashed, sealed segments a finished compaction had not yet deleted, a segment created just
    /// before a crash). Without a MANIFEST, a segment holding records is not a leftover: refuse rather than delete it.
    /// </summary>
    private static void RemoveStrays(string directory, List<ulong>? named, Action<string>? log)
    {
        var strays = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(path);
            if (SegmentFiles.IsOwnTempFile(name))
            {
                strays.Add(path);
            }
            else if (SegmentFiles.TryParseSegmentName(name, out ulong id) && (named is null || !named.Contains(id)))
            {
                if (named is null && new FileInfo(path).Length > LogRecordCodec.SegmentHeaderSize)
                {
                    throw LogCorruptionException.Unrecoverable(path, 0, $"{path} holds log records but {Path.Combine(directory, SegmentFiles.ManifestName)} is missing; refusing to guess which segments are live. Restore the MANIFEST, or move the segments away to start empty.");
                }

                strays.Add(path);
            }
        }

        foreach (var path in strays)
        {
            long length = new FileInfo(path).Length;
            File.Delete(path);
            log?.Invoke($"cairn log: removed {path} ({length} bytes), left by an interrupted write, rotation or compaction and not named in MANIFEST");
        }

        if (strays.Count > 0)
        {
            SegmentFiles.FsyncDirectory(directory);
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
                        replay(in record);
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

    /// <summary>Copies bytes [offset, end) of the segment to a new file beside it, fsyncs that, then cuts the segment at offset and fsyncs it.</summary>
    private static string MoveAside(string path, long offset, string suffix, TimeProvider time)
    {
        var aside = SegmentFiles.AsideName(path, suffix, time);
        using (var source = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        {
            long length = RandomAccess.GetLength(source);
            using (var target = File.OpenHandle(aside, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                var buffer = new byte[(int)Math.Min(1024 * 1024, Math.Max(length - offset, 1))];
                for (long at = offset; at < length;)
                {
                    int read = RandomAccess.Read(source, buffer, at);
                    if (read == 0)
                    {
                        break;
                    }

                    RandomAccess.Write(target, buffer.AsSpan(0, read), at - offset);
                    at += read;
                }

                RandomAccess.FlushToDisk(target);
            }

            RandomAccess.SetLength(source, offset);
            RandomAccess.FlushToDisk(source);
        }

        SegmentFiles.FsyncDirectory(Path.GetDirectoryName(path)!);
        return aside;
    }

    private sealed class ReplayState
    {
        public long Records;
        public ulong LastSequence;
        public ulong HighestCas;
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
