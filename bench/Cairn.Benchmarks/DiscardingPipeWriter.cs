using System.IO.Pipelines;

namespace Cairn.Benchmarks;

/// <summary>A PipeWriter over one reused buffer, so the benchmark measures the protocol code and not a socket.</summary>
internal sealed class DiscardingPipeWriter : PipeWriter
{
    private byte[] _buffer = new byte[64 * 1024];
    private long _unflushed;

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _unflushed;

    public override void Advance(int bytes) => _unflushed += bytes;

    /// <summary>What a flush does here: forget what was written.</summary>
    public void Discard() => _unflushed = 0;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint > _buffer.Length)
        {
            _buffer = new byte[sizeHint];
        }

        return _buffer;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        _unflushed = 0;
        return ValueTask.FromResult(new FlushResult(isCanceled: false, isCompleted: false));
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }
}
