using Cairn.Replication;
using Cairn.Storage.Durability;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's replication seam: the state "stats replication" reads, the primary's streamer the "replicate" command
/// hands a connection to, the follower --replica-of and "replicaof" start and stop, and the confirmation a batch of
/// writes needs beyond the local log before it is acknowledged. Null without a persistent log.
/// </summary>
public sealed class ReplicationControl : IReplicationRole, IAsyncDisposable
{
    /// <summary>What a batch's writes are answered when its replicas did not confirm them in time.</summary>
    public const string NotEnoughReplicas = "not enough replicas";

    private readonly DurableStore _durable;
    private readonly string _dataDirectory;
    private readonly Microsoft.Extensions.Logging.ILogger _log;
    private readonly TimeProvider _time;
    private readonly int _syncReplicas;
    private readonly TimeSpan _syncTimeout;
    private readonly string? _nodeId;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ReplicaFollower? _follower;
    private long _confirmed;
    private long _unconfirmed;

    public ReplicationControl(DurableStore durable, ServerOptions options, TimeProvider time, Microsoft.Extensions.Logging.ILogger log)
    {
        _durable = durable;
        _dataDirectory = options.DataDirectory;
        _log = log;
        _time = time;
        _syncReplicas = options.SyncReplicas;
        _syncTimeout = options.SyncTimeout;
        _nodeId = options.NodeId;
        State = new ReplicationState(ReplicationIdentity.LoadOrCreatePrimaryId(_dataDirectory));
        Primary = new ReplicationPrimary(durable, State, time, log);
    }

    public ReplicationState State { get; }

    public ReplicationPrimary Primary { get; }

    public ulong LastAppendedSequence => _durable.Log.LastAppendedSequence;

    /// <summary>
    /// Something that may forbid acknowledging writes even when the replicas hold them: with --etcd, a primary whose
    /// lease may have lapsed. Null without a coordinator.
    /// </summary>
    public IWriteFence? Fence => Coordinator;

    /// <summary>With --etcd: elections, the sync set, and the lease that fences this node's acknowledgements.</summary>
    public Cairn.Replication.Failover.FailoverCoordinator? Coordinator { get; set; }

    /// <summary>Whether a batch's writes need confirming beyond the local log (so sessions hold their replies).</summary>
    public bool ConfirmsWrites => _syncReplicas > 0 || Fence is not null;

    public int SyncReplicas => _syncReplicas;

    /// <summary>Batches whose writes were confirmed by replicas (and the lease), and those answered with an error instead.</summary>
    public (long Confirmed, long Unconfirmed) Confirmations => (Interlocked.Read(ref _confirmed), Interlocked.Read(ref _unconfirmed));

    /// <summary>
    /// Null once the records through <paramref name="sequence"/> (already durable here) are held by --sync-replicas
    /// replicas and this node may still acknowledge; else the reason its writes are answered with instead.
    /// </summary>
    public async ValueTask<string?> ConfirmAsync(ulong sequence)
    {
        if (Fence is { } fence && fence.RefusalReason is { } fenced)
        {
            Interlocked.Increment(ref _unconfirmed);
            return fenced;
        }

        if (!await State.Acknowledgements.WaitAsync(sequence, _syncReplicas, _syncTimeout, _time))
        {
            Interlocked.Increment(ref _unconfirmed);
            return NotEnoughReplicas;
        }

        // The lease may have lapsed while the replicas were being waited for.
        if (Fence is { } after && after.RefusalReason is { } lapsed)
        {
            Interlocked.Increment(ref _unconfirmed);
            return lapsed;
        }

        Interlocked.Increment(ref _confirmed);
        return null;
    }

    /// <summary>Follows the primary at host:port from now on (stopping any previous link first).</summary>
    public Task FollowAsync(string host, int port) => ExclusivelyAsync(async () =>
    {
        await StopFollowingAsync();
        var link = new ReplicaLink(host, port);
        State.Link = link;
        _follower = new ReplicaFollower(_durable, _dataDirectory, link, _log, _nodeId);
    });

    /// <summary>
    /// "replicaof no one": stop following and take writes under a new replication id, so whoever held this node's
    /// old history (an old primary returning, with a tail nobody acknowledged) cannot continue from it by mistake.
    /// </summary>
    public Task PromoteAsync() => ExclusivelyAsync(async () =>
    {
        var wasFollowing = _follower is not null;
        await StopFollowingAsync();
        ReplicationIdentity.ForgetReplicaPosition(_dataDirectory);
        if (wasFollowing)
        {
            State.PrimaryId = ReplicationIdentity.CreatePrimaryId(_dataDirectory);
            ServerLog.Promoted(_log, State.PrimaryId, LastAppendedSequence);
        }
    });

    public async ValueTask DisposeAsync()
    {
        if (Coordinator is { } coordinator)
        {
            await coordinator.DisposeAsync();
        }

        await ExclusivelyAsync(StopFollowingAsync);
    }

    /// <summary>One change of role at a time: a promotion racing a replicaof must not leave two followers.</summary>
    private async Task ExclusivelyAsync(Func<Task> change)
    {
        await _gate.WaitAsync();
        try
        {
            await change();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task StopFollowingAsync()
    {
        if (_follower is { } follower)
        {
            _follower = null;
            await follower.DisposeAsync();
        }

        State.Link = null;
    }
}
