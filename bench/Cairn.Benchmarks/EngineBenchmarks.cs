using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Cairn.Server.Hosting;
using Cairn.Storage.Log;

namespace Cairn.Benchmarks;

/// <summary>
/// The whole server over loopback: a client socket sends a pipelined batch and reads every reply, so the event loop,
/// the sessions, the store and (for sets) the log and its acknowledgement barrier all run. The memory diagnoser counts
/// every thread's allocations, the server's included; the target is zero bytes per request.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private const int BatchSize = 100;
    private string _dataDirectory = "";
    private CairnServer _server = null!;
    private Socket _client = null!;
    private byte[] _getBatch = [];
    private byte[] _setBatch = [];
    private int _getReplyLength;
    private int _setReplyLength;
    private readonly byte[] _replies = new byte[1 << 20];

    [GlobalSetup]
    public void Setup()
    {
        _dataDirectory = Directory.CreateTempSubdirectory("cairn-engine-bench-").FullName;
        var options = new ServerOptions { Port = 0, DataDirectory = _dataDirectory, Fsync = FsyncPolicy.No };
        _server = CairnServer.Create(options);
        _server.StartAsync().GetAwaiter().GetResult();
        _client = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(_server.EndPoints[0]);

        _setBatch = PipelinedBatches.Sets(BatchSize);
        _getBatch = PipelinedBatches.Gets(BatchSize);
        _setReplyLength = BatchSize * "STORED\r\n".Length;
        _getReplyLength = BatchSize * $"VALUE {PipelinedBatches.Key(0)} 0 {PipelinedBatches.ValueLength}\r\n{PipelinedBatches.Value}\r\nEND\r\n".Length;
        RoundTrip(_setBatch, _setReplyLength);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int PipelinedGets() => RoundTrip(_getBatch, _getReplyLength);

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int PipelinedSetsThroughTheLog() => RoundTrip(_setBatch, _setReplyLength);

    private int RoundTrip(byte[] batch, int replyLength)
    {
        _client.Send(batch);
        var received = 0;
        while (received < replyLength)
        {
            var read = _client.Receive(_replies.AsSpan(received));
            if (read == 0)
            {
                throw new InvalidOperationException($"the server closed the connection after {received} of {replyLength} reply bytes");
            }

            received += read;
        }

        return received;
    }
}
