using System.Buffers;
using BenchmarkDotNet.Attributes;
using Cairn.Protocol.Text;
using Cairn.Server.Connections;
using Cairn.Server.Hosting;
using Cairn.Storage;

namespace Cairn.Benchmarks;

/// <summary>
/// The text protocol without sockets: the parser alone, and a whole session answering a pre-encoded
/// pipelined batch into a reusable pipe. The target is zero bytes allocated per request.
/// </summary>
[MemoryDiagnoser]
public class TextProtocolBenchmarks
{
    private const int BatchSize = 100;
    private readonly byte[] _getLine = "get user:0000001234"u8.ToArray();
    private readonly byte[] _setLine = "set user:0000001234 0 0 100 noreply"u8.ToArray();
    private byte[] _getBatch = [];
    private byte[] _setBatch = [];
    private SlabItemStore _store = null!;
    private TextProtocolSession _session = null!;
    private readonly DiscardingPipeWriter _output = new();

    [GlobalSetup]
    public void Setup()
    {
        var options = new ServerOptions();
        _store = new SlabItemStore(options.ToStoreOptions(TimeProvider.System));
        _session = new TextProtocolSession(new ServerContext(_store, options, TimeProvider.System));

        _setBatch = PipelinedBatches.Sets(BatchSize);
        _getBatch = PipelinedBatches.Gets(BatchSize);
        Run(_setBatch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session.Dispose();
        _store.Dispose();
    }

    [Benchmark]
    public TextCommandKind ParseGetLine()
    {
        TextCommandParser.Parse(_getLine, out var command);
        return command.Kind;
    }

    [Benchmark]
    public TextCommandKind ParseSetLine()
    {
        TextCommandParser.Parse(_setLine, out var command);
        return command.Kind;
    }

    /// <summary>100 pipelined sets of 100-byte values, answered and "flushed" once.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public long SessionSetBatch() => Run(_setBatch);

    /// <summary>100 pipelined gets, all hits.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public long SessionGetBatch() => Run(_getBatch);

    private long Run(byte[] batch)
    {
        var buffer = new ReadOnlySequence<byte>(batch);
        _session.Process(ref buffer, _output);
        var written = _output.UnflushedBytes;
        _output.Discard();
        return written;
    }
}
