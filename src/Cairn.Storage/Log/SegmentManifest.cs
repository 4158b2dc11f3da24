namespace Cairn.Storage.Log;

/// <summary>
/// The log's live segments in MANIFEST order, the one lock around them, and the bytes they add up to. The writer adds
/// a segment when it rotates; compaction replaces the sealed prefix with its snapshot; readers take copies. Every
/// change writes MANIFEST first (atomically, by rename) and changes the list once the file names the new set, so the
/// list never names a set of segments the directory does not.
/// </summary>
internal sealed class SegmentManifest
{
    private readonly object _gate = new();
    private readonly List<SegmentInfo> _segments;
    private readonly string _directory;
    private readonly Action<LogIoOperation>? _beforeIo;
    private long _logBytes;
    private long _snapshotBytes;

    public SegmentManifest(string directory, List<SegmentInfo> recovered, Action<LogIoOperation>? beforeIo)
    {
        _directory = directory;
        _segments = recovered;
        _beforeIo = beforeIo;
        _logBytes = recovered.Sum(segment => segment.Length);
        _snapshotBytes = recovered.Count > 0 && recovered[0].IsSnapshot ? recovered[0].Length : 0;
    }

    /// <summary>Bytes of every live segment, headers included.</summary>
    public long LogBytes => Interlocked.Read(ref _logBytes);

    /// <summary>Bytes of the snapshot the log starts with (0 before the first compaction).</summary>
    public long SnapshotBytes => Interlocked.Read(ref _snapshotBytes);

    /// <summary>The newest segment (the one appends go to, unless it is a snapshot); null for an empty log.</summary>
    public SegmentInfo? Newest
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count == 0 ? null : _segments[^1];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>The writer wrote <paramref name="bytes"/> more into the current segment.</summary>
    public void Grew(long bytes) => Interlocked.Add(ref _logBytes, bytes);

    /// <summary>A new segment, created on disk by the caller, becomes the last one the manifest names.</summary>
    public void Add(SegmentInfo next)
    {
        lock (_gate)
        {
            SegmentFiles.WriteManifest(_directory, [.. _segments.Select(s => s.Id), next.Id], _beforeIo);
            _segments.Add(next);
        }

        Interlocked.Add(ref _logBytes, next.Length);
    }

    /// <summary>
    /// Compaction's switch: <paramref name="snapshot"/> replaces every segment up to <paramref name="sealedId"/>.
    /// <paramref name="afterRename"/> runs, under the lock, once MANIFEST names the new set, even if the directory's
    /// fsync then fails. Returns the segments replaced, for the caller to delete once nothing can need them.
    /// </summary>
    public List<SegmentInfo> ReplaceSealedPrefix(ulong sealedId, SegmentInfo snapshot, Action afterRename)
    {
        List<SegmentInfo> sealedSegments;
        lock (_gate)
        {
            sealedSegments = [.. _segments.Where(s => s.Id <= sealedId)];
            List<SegmentInfo> next = [snapshot, .. _segments.Where(s => s.Id > sealedId)];
            SegmentFiles.WriteManifest(_directory, next.Select(s => s.Id), _beforeIo, afterRename: () =>
            {
                _segments.Clear();
                _segments.AddRange(next);
                afterRename();
            });
        }

        Interlocked.Add(ref _logBytes, snapshot.Length - sealedSegments.Sum(s => s.Length));
        Interlocked.Exchange(ref _snapshotBytes, snapshot.Length);
        return sealedSegments;
    }

    public IReadOnlyList<(ulong Id, string Path, bool IsSnapshot)> Live()
    {
        lock (_gate)
        {
            return [.. _segments.Select(s => (s.Id, s.Path, s.IsSnapshot))];
        }
    }

    public string[] Paths()
    {
        lock (_gate)
        {
            return [.. _segments.Select(s => s.Path)];
        }
    }
}
