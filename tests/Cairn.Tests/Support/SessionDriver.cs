using System.Buffers;
using System.IO.Pipelines;
using Cairn.Server.Connections;
using Cairn.Server.Hosting;
using Cairn.Storage;

namespace Cairn.Tests.Support;

/// <summary>
/// Runs a protocol session (text unless told otherwise) the way the connection loop does, but feeds it chosen chunks
/// as separate buffer segments, so tests can split input at any byte.
/// </summary>
public sealed class SessionDriver : IDisposable
{
    private readonly SlabItemStore _store;
    private readonly IProtocolSession _session;
    private readonly MemoryStream _output = new();
    private readonly PipeWriter _writer;
    private readonly List<byte[]> _unconsumed = [];

    /// <param name="configure">Server options to change before the session starts.</param>
    /// <param name="time">The clock; a fixed manual one when not given.</param>
    /// <param name="createSession">The protocol to drive; the text protocol when not given.</param>
    public SessionDriver(Action<ServerOptions>? configure = null, TimeProvider? time = null, Func<ServerContext, IProtocolSession>? createSession = null)
    {
        var options = new ServerOptions();
        configure?.Invoke(options);
        time ??= new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        _store = new SlabItemStore(options.ToStoreOptions(time));
        var context = new ServerContext(_store, options, time);
        _session = createSession is null ? new TextProtocolSession(context) : createSession(context);
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
            var buffer = Segments.Build(_unconsumed);
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

    public void Dispose()
    {
        _session.Dispose();
        _store.Dispose();
        _output.Dispose();
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Build(List<byte[]> chunks)
        {
            if (chunks.Count == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            var first = new Segments(chunks[0], 0);
            var last = first;
            for (var i = 1; i < chunks.Count; i++)
            {
                var next = new Segments(chunks[i], last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
