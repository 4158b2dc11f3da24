using System.Buffers.Binary;
using System.Net.Sockets;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;
using Microsoft.Extensions.Logging;

namespace Cairn.Replication;

/// <summary>
/// A replica's side: connects to the primary, asks to continue from the position its own disk holds, applies every
/// shipped record through the recovery code (which also logs it here), and saves its position once those records are
/// durable locally. Once records are durable here it acknowledges them to the primary (which may be waiting for that
/// with --sync-replicas). A lost link is retried every half second. Records failing their CRC end the link (and are
/// never applied); the next connection resumes from the last applied record.
/// </summary>
public sealed class ReplicaFollower : IAsyncDisposable
{
    private static readonly TimeSpan RetryInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan SavePositionInterval = TimeSpan.FromMilliseconds(50);

    private readonly DurableStore _durable;
    private readonly string _dataDirectory;
    private readonly ReplicaLink _link;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly string? _nodeId;
    private readonly SemaphoreSlim _applied = new(0);
    private int _acknowledgementWanted;
    private volatile bool _inSnapshot;

    public ReplicaFollower(DurableStore durable, string dataDirectory, ReplicaLink link, ILogger log, string? nodeId = null)
    {
        _durable = durable;
        _dataDirectory = dataDirectory;
        _link = link;
        _log = log;
        _nodeId = nodeId;
        var (id, sequence) = ReplicationIdentity.LoadReplicaPosition(dataDirectory);
        _link.ReplicationId = id;
        _link.AppliedSequence = sequence;
        durable.BeginFollowing();

        // A thread of its own, as the log's writer has: applying a full resync is a long busy loop that would
        // otherwise hold a pool thread (on one core, the only one) and starve the listeners and timers.
        _thread = new Thread(Run) { IsBackground = true, Name = "cairn-replica" };
        _thread.Start();
    }

    public ReplicaLink Link => _link;

    /// <summary>Stops following; the store takes client writes again (a promotion, or replicaof another primary).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.Run(_thread.Join);
        _durable.EndFollowing();
        _stop.Dispose();
    }

    private void Run()
    {
        var stopping = _stop.Token;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                FollowOnce(stopping);
            }
            catch (Exception error) when (error is IOException or SocketException or InvalidDataException or ObjectDisposedException or OperationCanceledException
                or InvalidOperationException)
            {
                // InvalidOperationException: the store refused a shipped item (-m or -I smaller than the primary's); the
                // link is dropped and retried, and the error says what to raise.
                if (!stopping.IsCancellationRequested)
                {
                    ReplicationLog.LinkLost(_log, _link.Host, _link.Port, error.Message);
                }
            }
            finally
            {
                _link.Connected = false;
            }

            stopping.WaitHandle.WaitOne(RetryInterval);
        }
    }

    private void FollowOnce(CancellationToken stopping)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

        // Blocking reads end when the socket is closed under them: that is how a stop interrupts a quiet link.
        using var interrupt = stopping.Register(socket.Dispose);
        socket.Connect(_link.Host, _link.Port);
        using var stream = new NetworkStream(socket, ownsSocket: false);
        stream.Write(ReplicationFrames.Request(_link.ReplicationId, _link.AppliedSequence, _nodeId));
        using var reader = new BufferedStream(stream, 256 * 1024);
        var frames = new ReplicationStreamReader(reader);
        var answer = frames.ReadAnswerLine().Split(' ');
        bool full = answer is ["FULLRESYNC", _, _];
        if (!full && answer is not ["CONTINUE", _])
        {
            throw new InvalidDataException($"the primary answered '{string.Join(' ', answer)}' to replicate");
        }

        _link.Connected = true;
        _inSnapshot = full;
        if (full)
        {
            ReplicationLog.FullResyncFrom(_log, _link.Host, _link.Port, answer[1]);
            ForkKeeper.KeepAsideBeforeFullResync(_durable, _dataDirectory, _link.ReplicationId, _log);
            ReplicationIdentity.ForgetReplicaPosition(_dataDirectory);
            _durable.ResetForFullResync();
            _link.AppliedSequence = 0;
        }

        _link.ReplicationId = answer[1];
        using var linkDone = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var acknowledging = Task.Run(() => AcknowledgeAsync(socket, linkDone.Token), CancellationToken.None);
        try
        {
            Receive(frames);
        }
        finally
        {
            linkDone.Cancel();
            try
            {
                acknowledging.GetAwaiter().GetResult();
            }
            catch (Exception error) when (error is OperationCanceledException or SocketException or ObjectDisposedException or LogWriteException)
            {
            }
        }
    }

    private void Receive(ReplicationStreamReader frames)
    {
        while (true)
        {
            var kind = frames.ReadKind();
            switch (kind)
            {
                case ReplicationFrames.LogRecord or ReplicationFrames.SnapshotRecord:
                    Apply(frames.ReadRecord(), kind == ReplicationFrames.SnapshotRecord);
                    break;
                case ReplicationFrames.SnapshotEnd:
                    _link.AppliedSequence = frames.ReadNumber();
                    _inSnapshot = false;
                    WantAcknowledgement();
                    break;
                case ReplicationFrames.Heartbeat:
                    _link.PrimarySequence = frames.ReadNumber();
                    break;
                default:
                    throw new InvalidDataException($"an unknown frame kind {kind}");
            }
        }
    }

    private void WantAcknowledgement()
    {
        if (Interlocked.Exchange(ref _acknowledgementWanted, 1) == 0)
        {
            _applied.Release();
        }
    }

    /// <summary>
    /// Tells the primary, after each group of records is durable here, the last of them it holds; and saves that position
    /// (at most every 50 ms) so a restart never skips a record (re-applying some is harmless). Runs beside the
    /// receiving thread, so the wait for this node's log overlaps the next records arriving.
    /// </summary>
    private async Task AcknowledgeAsync(Socket socket, CancellationToken linkDone)
    {
        var frame = new byte[ReplicationFrames.AcknowledgementSize];
        frame[0] = ReplicationFrames.Acknowledgement;
        long lastSave = 0;
        ulong? saved = null;
        while (true)
        {
            await _applied.WaitAsync(linkDone);
            Volatile.Write(ref _acknowledgementWanted, 0);
            if (_inSnapshot)
            {
                continue;
            }

            // Read before waiting: everything applied through it is already appended to this node's log.
            var applied = _link.AppliedSequence;
            await _durable.WaitForDurableAsync(linkDone);
            BinaryPrimitives.WriteUInt64LittleEndian(frame.AsSpan(1), applied);
            await socket.SendAsync(frame, SocketFlags.None, linkDone);
            if (applied != saved && Environment.TickCount64 - lastSave >= SavePositionInterval.TotalMilliseconds)
            {
                ReplicationIdentity.SaveReplicaPosition(_dataDirectory, _link.ReplicationId!, applied);
                saved = applied;
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

            WantAcknowledgement();
        }
    }
}
