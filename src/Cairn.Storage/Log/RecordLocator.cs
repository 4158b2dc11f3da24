using Cairn.Storage.Tiering;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Log;

/// <summary>
/// Reads records back from the log by <see cref="DiskLocation"/>, for values that are only on disk. Owns two things the
/// writer and compaction tell it about: where each segment this process wrote begins in logical positions (so a location
/// taken at append time resolves to a file and offset), and one read handle per segment, dropped when compaction deletes
/// the segment. A handle dropped mid-read stays valid for that read (the handle is reference counted and the unlinked file
/// keeps its bytes); the next read finds the segment gone and reports the record moved.
/// </summary>
internal sealed class RecordLocator : IDisposable
{
    private readonly Lock _gate = new();
    private readonly SegmentManifest _manifest;
    private readonly Dictionary<ulong, SafeFileHandle> _handles = [];

    // Segment id and the logical position of its byte 0, in order; only segments written by this process.
    private readonly List<(ulong SegmentId, long Base)> _bases = [];
    private long _writtenPosition;
    private bool _disposed;

    public RecordLocator(SegmentManifest manifest) => _manifest = manifest;

    /// <summary>The logical position after the last byte the writer has written to a segment.</summary>
    public long WrittenPosition => Volatile.Read(ref _writtenPosition);

    /// <summary>The writer wrote a batch ending at logical <paramref name="end"/> that began at <paramref name="fileOffset"/> of <paramref name="segmentId"/>.</summary>
    public void Written(ulong segmentId, long fileOffset, long start, long end)
    {
        lock (_gate)
        {
            if (_bases.Count == 0 || _bases[^1].SegmentId != segmentId)
            {
                _bases.Add((segmentId, start - fileOffset));
            }
        }

        Volatile.Write(ref _writtenPosition, end);
    }

    /// <summary>Turns a location into segment and offset; false when a logical position is not in a segment this process wrote.</summary>
    public bool TryResolve(long location, out ulong segmentId, out long offset)
    {
        if (!DiskLocation.IsLogical(location))
        {
            segmentId = DiskLocation.SegmentId(location);
            offset = DiskLocation.Offset(location);
            return true;
        }

        long position = DiskLocation.LogicalPosition(location);
        lock (_gate)
        {
            // Bases grow with the segments, one per segment this process wrote: binary search for the last that starts at or before.
            int low = 0, high = _bases.Count - 1, found = -1;
            while (low <= high)
            {
                int middle = low + ((high - low) / 2);
                if (_bases[middle].Base + LogRecordCodec.SegmentHeaderSize <= position)
                {
                    found = middle;
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }

            if (found >= 0)
            {
                (segmentId, long start) = _bases[found];
                offset = position - start;
                return true;
            }
        }

        segmentId = 0;
        offset = 0;
        return false;
    }

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> of the segment; false when the segment is gone.</summary>
    public bool TryRead(ulong segmentId, long offset, Span<byte> destination, out int read)
    {
        read = 0;
        var handle = HandleFor(segmentId);
        if (handle is null)
        {
            return false;
        }

        try
        {
            while (read < destination.Length)
            {
                int n = RandomAccess.Read(handle, destination[read..], offset + read);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            return true;
        }
        catch (ObjectDisposedException)
        {
            // Compaction dropped the segment between the lookup and the read.
            return false;
        }
    }

    /// <summary>Compaction deleted these segments: their handles close once reads in flight finish.</summary>
    public void Forget(IEnumerable<ulong> segmentIds)
    {
        lock (_gate)
        {
            foreach (var id in segmentIds)
            {
                if (_handles.Remove(id, out var handle))
                {
                    handle.Dispose();
                }
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var handle in _handles.Values)
            {
                handle.Dispose();
            }

            _handles.Clear();
        }
    }

    private SafeFileHandle? HandleFor(ulong segmentId)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            if (_handles.TryGetValue(segmentId, out var handle))
            {
                return handle;
            }

            foreach (var (id, path, _) in _manifest.Live())
            {
                if (id == segmentId)
                {
                    try
                    {
                        handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
                    }
                    catch (FileNotFoundException)
                    {
                        return null;
                    }

                    _handles.Add(segmentId, handle);
                    return handle;
                }
            }

            return null;
        }
    }
}
