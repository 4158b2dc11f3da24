using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;

namespace Cairn.Replication;

/// <summary>
/// A replica's side: connects to the primary, asks to continue from the position its own disk holds, applies every
/// shipped record through the recovery code (which also logs it here), and saves its position once those records are
/// durable locally. A lost link is retried every half second. Records failing their CRC end the link (and are never
/// applied); the next connection resumes from the last applied record.
/// </summary>
public sealed class ReplicaFollower : IAsyncDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SavePositionInterval = TimeSpan.FromMilliseconds(50);

    private readonly DurableStore _durable;
    private readonly string _dataDirectory;
    private readonly ReplicaLink _link;
    private readonly Action<string>? _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public ReplicaFollower(DurableStore durable, string dataDirectory, ReplicaLink link, Action<string>? log)
    {
        _durable = durable;
        _dataDirectory = dataDirectory;
        _link = link;
        _log = log;
        var (id, sequence) = ReplicationIdentity.LoadReplicaPosition(dataDirectory);
        _link.ReplicationId = id;
        _link.AppliedSequence = sequence;
        durable.BeginFollowing();
        _run = Task.Run(RunAsync);
    }

    public ReplicaLink Link => _link;

    /// <summary>Stops following; the store takes client writes again (a promotion, or replicaof another primary).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run;
        }
        catch (OperationCanceledException)
        {
        }

        _durable.EndFollowing();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await FollowOnceAsync(_stop.Token);
            }
            catch (Exception error) when (error is IOException or SocketException or InvalidDataException)
            {
                _log?.Invoke($"replication: link to {_link.Host}:{_link.Port} lost ({error.Message}); retrying");
            }
            catch (OperationCanceledException)
            {
                return;
            }
            finally
            {
                _link.Connected = false;
            }

            try
            {
                await Task.Delay(RetryInterval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task FollowOnceAsync(CancellationToken stopping)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_link.Host, _link.Port, stopping);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.WriteAsync(ReplicationFrames.Request(_link.ReplicationId, _link.AppliedSequence), stopping);
        var reader = new BufferedStream(stream, 256 * 1024);
        var answer = (await ReadLineAsync(reader, stopping)).Split(' ');
        bool full = answer is ["FULLRESYNC", _, _];
        if (!full && answer is not ["CONTINUE", _])
        {
            throw new InvalidDataException($"the primary answered '{string.Join(' ', answer)}' to replicate");
        }

        _link.Connected = true;
        _link.ReplicationId = answer[1];
        if (full)
        {
            _log?.Invoke($"replication: full resync from {_link.Host}:{_link.Port} (replication id {answer[1]})");
            ReplicationIdentity.ForgetReplicaPosition(_dataDirectory);
            _durable.ResetForFullResync();
            _link.AppliedSequence = 0;
        }

        bool inSnapshot = full;
        long lastSave = Environment.TickCount64;
        var header = new byte[LogRecords.HeaderSize];
        var number = new byte[8];
        var record = new byte[64 * 1024];
        while (true)
        {
            int kind = reader.ReadByte();
            if (kind < 0)
            {
                throw new IOException("the primary closed the stream");
            }

            switch ((byte)kind)
            {
                case ReplicationFrames.LogRecord or ReplicationFrames.SnapshotRecord:
                    await reader.ReadExactlyAsync(header, stopping);
                    int length = LogRecords.PeekLength(header);
                    if (length < LogRecords.HeaderSize)
                    {
                        throw new InvalidDataException("a record with an impossible length");
                    }

                    if (record.Length < length)
                    {
                        record = new byte[length];
                    }

                    header.CopyTo(record, 0);
                    await reader.ReadExactlyAsync(record.AsMemory(header.Length, length - header.Length), stopping);
                    Apply(record.AsSpan(0, length), (byte)kind == ReplicationFrames.SnapshotRecord);
                    break;
                case ReplicationFrames.SnapshotEnd:
                    await reader.ReadExactlyAsync(number, stopping);
                    inSnapshot = false;
                    _link.AppliedSequence = BinaryPrimitives.ReadUInt64LittleEndian(number);
                    break;
                case ReplicationFrames.Heartbeat:
                    await reader.ReadExactlyAsync(number, stopping);
                    _link.PrimarySequence = BinaryPrimitives.ReadUInt64LittleEndian(number);
                    break;
                default:
                    throw new InvalidDataException($"an unknown frame kind {kind}");
            }

            // Saved only once the records are durable here, so a restart never skips one; re-applying some is harmless.
            if (!inSnapshot && Environment.TickCount64 - lastSave >= SavePositionInterval.TotalMilliseconds)
            {
                await _durable.WaitForDurableAsync(stopping);
                ReplicationIdentity.SaveReplicaPosition(_dataDirectory, _link.ReplicationId!, _link.AppliedSequence);
                lastSave = Environment.TickCount64;
            }
        }
    }

    private void Apply(ReadOnlySpan<byte> bytes, bool fromSnapshot)
    {
        if (!LogRecords.TryDecode(bytes, out var record))
        {
            throw new InvalidDataException("a shipped record failed its CRC check; nothing of it was applied");
        }

        _durable.ApplyReplicated(record);
        if (!fromSnapshot)
        {
            _link.AppliedSequence = record.Sequence;
            if (record.Sequence > _link.PrimarySequence)
            {
                _link.PrimarySequence = record.Sequence;
            }
        }
    }

    private static async Task<string> ReadLineAsync(BufferedStream reader, CancellationToken stopping)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await reader.ReadExactlyAsync(one, stopping);
            if (one[0] == (byte)'\n')
            {
                return line.ToString().TrimEnd('\r');
            }

            if (line.Length > 200)
            {
                throw new InvalidDataException("the primary's answer line is too long");
            }

            line.Append((char)one[0]);
        }
    }
}
