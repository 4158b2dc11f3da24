using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Log;

/// <summary>
/// Writes the live items into a snapshot segment during <see cref="AppendLog.CompactAsync(SnapshotSource, CancellationToken)"/>. Records are batched
/// into one buffer and written sequentially; nothing is allocated per item.
/// </summary>
public sealed class SnapshotWriter
{
    private const int BufferSize = 1024 * 1024;

    private readonly SafeFileHandle _file;
    private readonly Action<LogIoOperation>? _beforeIo;
    private readonly CancellationToken _cancellationToken;
    private readonly ulong _segmentId;
    private byte[] _buffer = new byte[BufferSize];
    private int _length;
    private long _fileOffset;
    private ulong _sequence;
    private bool _completed;

    internal SnapshotWriter(SafeFileHandle file, ulong segmentId, ulong coversThroughSequence, ulong highestCas, Action<LogIoOperation>? beforeIo, CancellationToken cancellationToken)
    {
        _file = file;
        _segmentId = segmentId;
        _beforeIo = beforeIo;
        _cancellationToken = cancellationToken;
        LogRecordCodec.WriteSegmentHeader(_buffer, LogRecordCodec.KindSnapshot, segmentId, coversThroughSequence, highestCas);
        _length = LogRecordCodec.SegmentHeaderSize;
    }

    /// <summary>Records written so far.</summary>
    public long Records => (long)_sequence;

    /// <summary>One live item, with its original cas and store time. Returns where the record lies in the snapshot (<see cref="Tiering.DiskLocation"/>).</summary>
    public long WriteSet(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale = false)
    {
        LogRecordCodec.ValidateKey(key);
        LogRecordCodec.ValidateValue(value.Length);
        int length = LogRecordCodec.SetLength(key.Length, value.Length);
        var record = Reserve(length);
        long location = Tiering.DiskLocation.InSegment(_segmentId, _fileOffset + _length);
        LogRecordCodec.WriteSet(record, ++_sequence, key, value, flags, expiresAt, cas, storedAt, stale);
        _length += length;
        return location;
    }

    /// <summary>A delayed flush_all still pending: without it the snapshot would forget the flush.</summary>
    public void WriteFlushDelayed(long flushAtUnixSeconds)
    {
        LogRecordCodec.WriteFlush(Reserve(LogRecordCodec.FlushSize), ++_sequence, LogRecordType.FlushDelayed, (ulong)flushAtUnixSeconds);
        _length += LogRecordCodec.FlushSize;
    }

    /// <summary>Writes what is buffered; returns the snapshot's length in bytes. The caller fsyncs.</summary>
    internal long Complete()
    {
        Flush();
        _completed = true;
        return _fileOffset;
    }

    private Span<byte> Reserve(int length)
    {
        if (_completed)
        {
            throw new InvalidOperationException("the snapshot is complete; write items only inside the SnapshotSource callback");
        }

        if (_buffer.Length - _length < length)
        {
            Flush();
            if (_buffer.Length < length)
            {
                _buffer = new byte[length];
            }
        }

        return _buffer.AsSpan(_length, length);
    }

    private void Flush()
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (_length == 0)
        {
            return;
        }

        // The segment header sits at the start of the first flush and already carries its own CRC.
        int recordsStart = _fileOffset == 0 ? LogRecordCodec.SegmentHeaderSize : 0;
        LogRecordCodec.SealAll(_buffer.AsSpan(recordsStart, _length - recordsStart));
        _beforeIo?.Invoke(LogIoOperation.WriteSnapshot);
        RandomAccess.Write(_file, _buffer.AsSpan(0, _length), _fileOffset);
        _fileOffset += _length;
        _length = 0;
        if (_buffer.Length > BufferSize)
        {
            _buffer = new byte[BufferSize];
        }
    }
}
