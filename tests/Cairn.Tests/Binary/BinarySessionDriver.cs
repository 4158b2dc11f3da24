using System.Buffers;
using System.IO.Pipelines;
using Cairn.Server.Connections;
using Cairn.Server.Hosting;
using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Binary;

/// <summary>
/// Runs a <see cref="BinaryProtocolSession"/> the way the connection loop does, feeding it chosen chunks as
/// separate buffer segments, so a test can split a pipelined batch at any byte.
/// </summary>
internal sealed class BinarySessionDriver : IDisposable
{
    private readonly SlabItemStore _store;
    private readonly BinaryProtocolSession _session;
    private readonly MemoryStream _output = new();
    private readonly PipeWriter _writer;
    private readonly List<byte[]> _unconsumed = [];

    public BinarySessionDriver(Action<ServerOptions>? configure = null)
    {
        var options = new ServerOptions();
        configure?.Invoke(options);
        var time = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        _store = new SlabItemStore(options.ToStoreOptions(time));
        _session = new BinaryProtocolSession(new ServerContext(_store, options, time));
        _writer = PipeWriter.Create(_output, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public bool Closed { get; private set; }

    public void Feed(ReadOnlySpan<byte> chunk)
    {
        if (Closed)
        {
            return;
        }

        _unconsumed.Add(chunk.ToArray());
        while (true)
        {
            var buffer = Build(_unconsumed);
            var before = buffer.Length;
            var outcome = _session.Process(ref buffer, _writer);
            Consume(before - buffer.Length);
            _writer.FlushAsync().AsTask().GetAwaiter().GetResult();
            if (outcome == BatchOutcome.Close)
            {
                Closed = true;
                return;
            }

            if (outcome == BatchOutcome.NeedMoreData)
            {
                return;
            }
        }
    }

    public byte[] Output()
    {
        _writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        return _output.ToArray();
    }

    private void Consume(long count)
    {
        while (count > 0)
        {
            var first = _unconsumed[0];
            if (first.Length <= count)
            {
                count -= first.Length;
                _unconsumed.RemoveAt(0);
            }
            else
            {
                _unconsumed[0] = first[(int)count..];
                count = 0;
            }
        }
    }

    private static ReadOnlySequence<byte> Build(List<byte[]> chunks)
    {
        if (chunks.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0], 0);
        var last = first;
        for (var i = 1; i < chunks.Count; i++)
        {
            var next = new Segment(chunks[i], last.RunningIndex + last.Memory.Length);
            last.SetNext(next);
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public void Dispose()
    {
        _session.Dispose();
        _store.Dispose();
        _output.Dispose();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
