using System.Buffers;

namespace Cairn.Storage;

/// <summary>
/// The bytes a store writes: a request's (possibly multi-segment) body, or one contiguous span as replay and replication
/// read it from a log record. One store routine serves both, so a value restored from the log is stored by exactly the
/// code that stored it the first time, without first being copied into an array to look like a request.
/// </summary>
internal readonly ref struct ItemValue
{
    private readonly ReadOnlySequence<byte> _sequence;
    private readonly ReadOnlySpan<byte> _span;
    private readonly bool _isSpan;

    public ItemValue(in ReadOnlySequence<byte> sequence)
    {
        _sequence = sequence;
        _isSpan = false;
    }

    public ItemValue(ReadOnlySpan<byte> span)
    {
        _span = span;
        _isSpan = true;
    }

    public long Length => _isSpan ? _span.Length : _sequence.Length;

    public void CopyTo(Span<byte> destination)
    {
        if (_isSpan)
        {
            _span.CopyTo(destination);
        }
        else
        {
            _sequence.CopyTo(destination);
        }
    }
}
