using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Cairn.Replication.Failover;

/// <summary>Who this node is in an etcd-coordinated cluster, and the rules it keeps there.</summary>
public sealed record FailoverOptions(string NodeId, string Advertise, int LeaseTtlSeconds, int SyncReplicas, TimeSpan SyncTimeout);

/// <summary>
/// Runs a node's part in failover: it holds an etcd lease; when nobody leads and the sync set names it, it campaigns for
/// the leader key; the leader is the primary (it keeps the sync set: which replicas every acknowledged write reached),
/// everyone else follows whoever holds the key. As a write fence it lets this node acknowledge writes only while it
/// leads and its lease is safely held, so a primary cut off from etcd stops before another can be elected.
/// </summary>
public sealed class FailoverCoordinator : IWriteFence, IAsyncDisposable
{
    public const string NotElected = "not the elected primary";
    public const string LeaseLapsed = "the etcd lease may have lapsed; not acknowledged";

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan CatchUpPoll = TimeSpan.FromMilliseconds(10);

    private readonly EtcdCluster _cluster;
    private readonly IReplicationRole _role;
    private readonly FailoverOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, (ulong Target, long Since)> _behind = [];
    private readonly LeaderRecord _me;
    private Task? _running;
    private NodeLease? _lease;
    private volatile bool _leading;
    private SyncSet _sync;
    private string? _following;
    private string? _lastProblem;
    private int _failedSteps;

    public FailoverCoordinator(EtcdCluster cluster, IReplicationRole role, FailoverOptions options, TimeProvider time, ILogger log)
    {
        _cluster = cluster;
        _role = role;
        _options = options;
        _time = time;
        _log = log;
        _me = new LeaderRecord(options.NodeId, options.Advertise);
        _sync = new SyncSet(options.NodeId, []);
    }

    public bool Leading => _leading;

    /// <summary>The leader this node last saw (itself when leading), for "stats replication".</summary>
    public LeaderRecord? KnownLeader { get; private set; }

    /// <summary>The sync set as this node last wrote or read it.</summary>
    public SyncSet? KnownSyncSet { get; private set; }

    public TimeSpan LeaseMargin => _lease?.Margin ?? TimeSpan.Zero;

    public string? RefusalReason => !_leading ? NotElected : _lease?.IsSafelyHeld == true ? null : LeaseLapsed;

    public void Start() => _running = RunAsync(_stop.Token);

    private async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await StepAsync(stopping);
                if (_lastProblem is not null)
                {
                    ReplicationLog.EtcdBack(_log);
                    _lastProblem = null;
                    _failedSteps = 0;
                }
            }
            catch (Exception error) when (!stopping.IsCancellationRequested)
            {
                // Any failure, not a list of them: a timed-out call surfaces as an RpcException, an OperationCanceledException
                // or an HttpRequestException depending on where it was cut, and a coordinator that dies on one leaves its
                // node unable ever to lead again. Said once per kind of trouble (and every 50th attempt).
                var problem = error.GetType().Name + error.Message;
                if (problem != _lastProblem || ++_failedSteps % 50 == 0)
                {
                    ReplicationLog.EtcdTrouble(_log, error.GetType().Name, error.Message, _failedSteps + 1, _leading ? "acknowledging stops when the lease runs out" : "not campaigning");
                    _lastProblem = problem;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                await Task.Delay(PollInterval, _time, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task StepAsync(CancellationToken stopping)
    {
        if (_lease is null || _lease.Expired)
        {
            if (_lease is not null)
            {
                StepDown("its etcd lease expired");
                await _lease.DisposeAsync();
                _lease = null;
            }

            _lease = await NodeLease.GrantAsync(_cluster, _options.LeaseTtlSeconds, _time, stopping);
        }

        var (leader, leaderLease) = await _cluster.ReadLeaderAsync(stopping);
        KnownLeader = leader;
        if (leader is null)
        {
            StepDown("nobody holds the leader key");
            var sync = await _cluster.ReadSyncSetAsync(stopping);
            KnownSyncSet = sync;
            if (!MayCampaign(sync))
            {
                return;
            }

            if (await _cluster.TryAcquireLeaderAsync(_lease.Id, _me, stopping))
            {
                await BecomeLeaderAsync(stopping);
            }

            return;
        }

        if (leader.NodeId == _options.NodeId)
        {
            if (leaderLease != _lease.Id)
            {
                // This node's own key from before its restart: the process that held it is gone (the data directory
                // is locked by this one), so there is no reason to wait out its TTL.
                await _cluster.RevokeLeaseAsync(leaderLease, stopping);
                ReplicationLog.StaleLeaseRevoked(_log);
                return;
            }

            if (!_leading)
            {
                await BecomeLeaderAsync(stopping);
                return;
            }

            await MaintainSyncSetAsync(stopping);
            return;
        }

        StepDown($"{leader.NodeId} leads");
        await FollowAsync(leader);

        // For "stats replication": whether this node may be elected next.
        KnownSyncSet = await _cluster.ReadSyncSetAsync(stopping);
    }

    /// <summary>
    /// Only a node that holds every acknowledged write may lead: one the sync set names as a replica, or the primary
    /// that wrote it when it named no replica (then nobody else holds more). No sync set yet: the cluster's first election.
    /// </summary>
    private bool MayCampaign(SyncSet? sync) =>
        sync is null || sync.Replicas.Contains(_options.NodeId) || (sync.Leader == _options.NodeId && sync.Replicas.Count == 0);

    private async Task BecomeLeaderAsync(CancellationToken stopping)
    {
        await _role.PromoteAsync();
        _following = null;
        var state = _role.State;
        state.ReplicasDesignated = true;
        foreach (var replica in state.Replicas)
        {
            replica.Counts = false;
        }

        // From here only this node and replicas it adds later may be elected.
        var sync = new SyncSet(_options.NodeId, []);
        if (!await _cluster.TryWriteSyncSetAsync(_lease!.Id, sync, stopping))
        {
            return;
        }

        _sync = sync;
        KnownSyncSet = sync;
        _behind.Clear();
        _leading = true;
        ReplicationLog.Elected(_log, _options.NodeId, _role.LastAppendedSequence, _lease.Id, _options.LeaseTtlSeconds);
    }

    private void StepDown(string reason)
    {
        if (_leading)
        {
            _leading = false;
            ReplicationLog.Deposed(_log, _options.NodeId, reason);
        }
    }

    private async Task FollowAsync(LeaderRecord leader)
    {
        if (_following == leader.Advertise && _role.State.IsReplica)
        {
            return;
        }

        var colon = leader.Advertise.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(leader.Advertise.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            throw new InvalidOperationException($"the leader key names '{leader.Advertise}', not HOST:PORT");
        }

        await _role.FollowAsync(leader.Advertise[..colon].Trim('[', ']'), port);
        _following = leader.Advertise;
        ReplicationLog.Following(_log, leader.NodeId, leader.Advertise);
    }

    /// <summary>
    /// One change per step. A sync replica that went away, or has not reached in --sync-timeout the position it was
    /// behind, leaves the set in etcd before it stops counting. A caught-up replica joins while the set is short: it
    /// counts first, then is named once it holds everything acknowledged so far.
    /// </summary>
    private async Task MaintainSyncSetAsync(CancellationToken stopping)
    {
        var replicas = _role.State.Replicas.ToList();
        var now = _time.GetTimestamp();
        foreach (var member in _sync.Replicas)
        {
            var connections = replicas.Where(r => r.NodeId == member && r.Counts).ToList();
            if (connections.Count == 0 || IsLagging(member, connections.Max(r => r.AcknowledgedSequence), now))
            {
                var smaller = _sync with { Replicas = [.. _sync.Replicas.Where(m => m != member)] };
                if (!await _cluster.TryWriteSyncSetAsync(_lease!.Id, smaller, stopping))
                {
                    return;
                }

                _sync = smaller;
                KnownSyncSet = smaller;
                _behind.Remove(member);
                foreach (var replica in replicas.Where(r => r.NodeId == member))
                {
                    replica.Counts = false;
                }

                ReplicationLog.LeftSyncSet(_log, member, connections.Count == 0 ? "disconnected" : "lagging");
                return;
            }
        }

        if (_sync.Replicas.Count >= _options.SyncReplicas)
        {
            return;
        }

        var candidate = replicas.FirstOrDefault(r => r.NodeId is { } id && id != _options.NodeId && r.HasAcknowledged && !_sync.Replicas.Contains(id));
        if (candidate is null)
        {
            return;
        }

        candidate.Counts = true;
        var target = _role.LastAppendedSequence;
        var deadline = _time.GetTimestamp() + (long)(_options.SyncTimeout.TotalSeconds * _time.TimestampFrequency);
        while (candidate.AcknowledgedSequence < target)
        {
            if (_time.GetTimestamp() > deadline || !_role.State.Replicas.Contains(candidate))
            {
                candidate.Counts = false;
                return;
            }

            await Task.Delay(CatchUpPoll, _time, stopping);
        }

        var larger = _sync with { Replicas = [.. _sync.Replicas, candidate.NodeId!] };
        if (!await _cluster.TryWriteSyncSetAsync(_lease!.Id, larger, stopping))
        {
            candidate.Counts = false;
            return;
        }

        _sync = larger;
        KnownSyncSet = larger;
        ReplicationLog.JoinedSyncSet(_log, candidate.NodeId, target);
    }

    /// <summary>Behind means: it has not reached, within --sync-timeout, the position the log had when it was first seen behind.</summary>
    private bool IsLagging(string member, ulong acknowledged, long now)
    {
        if (_behind.TryGetValue(member, out var behind))
        {
            if (acknowledged >= behind.Target)
            {
                _behind.Remove(member);
                return false;
            }

            return _time.GetElapsedTime(behind.Since, now) > _options.SyncTimeout;
        }

        var last = _role.LastAppendedSequence;
        if (acknowledged < last)
        {
            _behind[member] = (last, now);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        _leading = false;
        await _stop.CancelAsync();
        if (_running is { } running)
        {
            await running;
        }

        // Revoking the lease frees the leader key at once: a clean stop hands over without waiting out the TTL.
        if (_lease is { } lease)
        {
            await lease.DisposeAsync();
        }

        _cluster.Dispose();
        _stop.Dispose();
    }
}
