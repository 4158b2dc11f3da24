using System.Buffers;
using System.IO.Pipelines;

namespace Cairn.Server.Connections;

/// <summary>What answering the request at the front of the buffer left the batch to do.</summary>
public enum RequestStep
{
    Done,
    NeedMore,
    Close,
    AwaitOperation,
}

/// <summary>A protocol's framer: answers the one request at the front of the buffer, or says it needs more bytes.</summary>
public interface IRequestFramer
{
    RequestStep AnswerOne(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output);

    /// <summary>The rest of a value refused for its size has gone past (text answers the refusal only then).</summary>
    void SwallowEnded(IBufferWriter<byte> output);
}

/// <summary>
/// The batch loop both protocols share, so they cannot drift apart on it: stop once enough replies are buffered,
/// skip the rest of a refused oversized value, answer requests one at a time, and close each command's reply for
/// the write gate (which may have to replace a write's reply when replicas do not confirm it).
/// </summary>
public sealed class RequestBatch(WriteGate gate)
{
    /// <summary>Replies buffered past this are flushed before the batch goes on, so a long pipeline streams.</summary>
    public const int FlushThreshold = 256 * 1024;

    private long _swallowRemaining;

    /// <summary>Skip this many bytes of input (a value refused for its size) before framing the next request.</summary>
    public void Swallow(long bytes) => _swallowRemaining = bytes;

    public BatchOutcome Run(IRequestFramer framer, ref ReadOnlySequence<byte> buffer, PipeWriter output)
    {
        while (true)
        {
            if (output.CanGetUnflushedBytes && output.UnflushedBytes > FlushThreshold)
            {
                return BatchOutcome.FlushAndContinue;
            }

            if (_swallowRemaining > 0)
            {
                var skip = Math.Min(_swallowRemaining, buffer.Length);
                buffer = buffer.Slice(skip);
                _swallowRemaining -= skip;
                if (_swallowRemaining > 0)
                {
                    return BatchOutcome.NeedMoreData;
                }

                framer.SwallowEnded(output);
            }

            if (buffer.IsEmpty)
            {
                return BatchOutcome.NeedMoreData;
            }

            var step = framer.AnswerOne(ref buffer, output);
            gate.EndCommand();
            if (step != RequestStep.Done)
            {
                return step switch
                {
                    RequestStep.NeedMore => BatchOutcome.NeedMoreData,
                    RequestStep.AwaitOperation => BatchOutcome.AwaitOperation,
                    _ => BatchOutcome.Close,
                };
            }
        }
    }
}
