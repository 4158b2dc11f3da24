using System.Buffers;
using System.IO.Pipelines;

namespace Cairn.Server.Transport;

/// <summary>
/// A connection's replies until its socket takes them: segments rented from the shared pool and returned once sent,
/// so an idle connection holds none. The sessions write to it as to any <see cref="PipeWriter"/>; the event loop, not
/// <see cref="FlushAsync"/>, sends it, in one send per segment (one for a batch of small replies).
/// </summary>
internal sealed class ReplyBuffer : PipeWriter
{
    private const int SegmentSize = 16 * 1024;

    private readonly List<Segment> _full = [];
    private byte[]? _tail;
    private int _tailLength;
    private int _sentOfFirst;
    private long _unsent;

    public enum SendOutcome
    {
        /// <summary>Everything written has gone.</summary>
        Sent,

        /// <summary>The socket's send buffer is full: wait until it is writable.</summary>
        Blocked,

        /// <summary>The socket failed (the peer reset it): close.</summary>
        Failed,
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _unsent;

    public bool IsEmpty => _unsent == 0;

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_tail is not null && _tail.Length - _tailLength < sizeHint)
        {
            if (_tailLength > 0)
            {
                _full.Add(new Segment(_tail, _tailLength));
            }
            else
            {
                ArrayPool<byte>.Shared.Return(_tail);
            }

            _tail = null;
            _tailLength = 0;
        }

        _tail ??= ArrayPool<byte>.Shared.Rent(Math.Max(SegmentSize, sizeHint));
        return _tail.AsMemory(_tailLength);
    }

    public override void Advance(int bytes)
    {
        _tailLength += bytes;
        _unsent += bytes;
    }

    /// <summary>Sends what it can without blocking, in order; what the socket did not take stays for the next call.</summary>
    public SendOutcome SendTo(int socket)
    {
        while (_full.Count > 0)
        {
            var first = _full[0];
            var outcome = SendSegment(socket, first.Array, first.Length);
            if (outcome != SendOutcome.Sent)
            {
                return outcome;
            }

            _full.RemoveAt(0);
            ArrayPool<byte>.Shared.Return(first.Array);
        }

        if (_tail is null || _tailLength == 0)
        {
            ReturnTail();
            return SendOutcome.Sent;
        }

        var last = SendSegment(socket, _tail, _tailLength);
        if (last == SendOutcome.Sent)
        {
            ReturnTail();
        }

        return last;
    }

    /// <summary>What is not yet sent, for a connection that leaves the event loop; the buffer is then empty.</summary>
    public byte[] TakeUnsent()
    {
        var unsent = new byte[_unsent];
        var at = 0;
        foreach (var segment in _full)
        {
            var part = segment.Array.AsSpan(_sentOfFirst, segment.Length - _sentOfFirst);
            part.CopyTo(unsent.AsSpan(at));
            at += part.Length;
            _sentOfFirst = 0;
        }

        _tail.AsSpan(_sentOfFirst, _tailLength - _sentOfFirst).CopyTo(unsent.AsSpan(at));
        Release();
        return unsent;
    }

    public void Release()
    {
        foreach (var segment in _full)
        {
            ArrayPool<byte>.Shared.Return(segment.Array);
        }

        _full.Clear();
        ReturnTail();
        _unsent = 0;
    }

    // The loop sends; a session's flush has nothing of its own to do.
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => new(new FlushResult(false, false));

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    private SendOutcome SendSegment(int socket, byte[] array, int length)
    {
        var sent = LinuxSockets.Send(socket, array.AsSpan(_sentOfFirst, length - _sentOfFirst));
        if (sent < 0)
        {
            return sent == -LinuxSockets.TryAgain ? SendOutcome.Blocked : SendOutcome.Failed;
        }

        _sentOfFirst += sent;
        _unsent -= sent;
        if (_sentOfFirst < length)
        {
            // A short send means the socket buffer is full; asking again would only return EAGAIN.
            return SendOutcome.Blocked;
        }

        _sentOfFirst = 0;
        return SendOutcome.Sent;
    }

    private void ReturnTail()
    {
        if (_tail is not null)
        {
            ArrayPool<byte>.Shared.Return(_tail);
            _tail = null;
        }

        _tailLength = 0;
        _sentOfFirst = _full.Count == 0 ? 0 : _sentOfFirst;
    }

    private readonly record struct Segment(byte[] Array, int Length);
}
