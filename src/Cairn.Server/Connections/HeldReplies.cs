using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Cairn.Protocol.Binary;
using Cairn.Protocol.Text;

namespace Cairn.Server.Connections;

/// <summary>
/// A batch's replies, held back while its writes wait for replicas (--sync-replicas) or for proof this node still
/// leads (--etcd). It remembers which bytes answer which write, so that when the writes cannot be acknowledged those
/// replies (and only those) become an error while the batch's reads are answered as usual. The one copy into the
/// connection's pipe is the price of that choice; without replication the session writes to the pipe directly.
/// </summary>
public sealed class HeldReplies : PipeWriter, IDisposable
{
    private const int InitialSize = 4096;

    private readonly List<WriteReply> _writes = [];
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
    private int _length;
    private WriteReply? _open;

    /// <summary>Whether any write in the batch was admitted, so the batch must be confirmed before it is answered.</summary>
    public bool HasWrites => _writes.Count > 0 || _open is not null;

    /// <summary>A write was admitted; its reply starts here. A second admission within one command changes nothing.</summary>
    public void BeginWrite(bool binary, BinaryOpcode opcode, uint opaque) =>
        _open ??= new WriteReply(_length, 0, binary, opcode, opaque);

    /// <summary>The command that began a write has written its reply (nothing for a quiet one).</summary>
    public void EndCommand()
    {
        if (_open is { } open)
        {
            _writes.Add(open with { End = _length });
            _open = null;
        }
    }

    /// <summary>
    /// Moves the batch's replies to <paramref name="output"/>: as written when <paramref name="refusal"/> is null, else
    /// with every write's reply replaced by the refusal in its protocol's words (a quiet write speaks up, as it would for
    /// any error). The buffer is then empty for the next batch.
    /// </summary>
    public void ReleaseTo(IBufferWriter<byte> output, string? refusal)
    {
        EndCommand();
        var held = _buffer.AsSpan(0, _length);
        if (refusal is null)
        {
            output.Write(held);
        }
        else
        {
            var reason = Encoding.ASCII.GetBytes(refusal.ReplaceLineEndings(" "));
            int from = 0;
            foreach (var write in _writes)
            {
                output.Write(held[from..write.Start]);
                if (write.Binary)
                {
                    BinaryResponseWriter.WriteError(output, write.Opcode, BinaryStatus.InternalError, write.Opaque, default, reason);
                }
                else
                {
                    TextResponseWriter.Write(output, TextReplies.ServerErrorPrefix);
                    TextResponseWriter.Write(output, reason);
                    TextResponseWriter.Write(output, TextReplies.Crlf);
                }

                from = write.End;
            }

            output.Write(held[from..]);
        }

        _writes.Clear();
        _length = 0;
        if (_buffer.Length > 64 * InitialSize)
        {
            // A batch of large values grew it; do not keep that much per connection.
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(InitialSize);
        }
    }

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _length;

    public override void Advance(int bytes) => _length += bytes;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_length);
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    /// <summary>Sessions never flush; the connection loop releases the replies once the batch is confirmed.</summary>
    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException("held replies are released by the connection loop, not flushed");

    public void Dispose()
    {
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private void Reserve(int sizeHint)
    {
        var needed = _length + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private readonly record struct WriteReply(int Start, int End, bool Binary, BinaryOpcode Opcode, uint Opaque);
}
