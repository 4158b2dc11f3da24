using System.Collections.Concurrent;
using System.Net;

namespace Cairn.Replication;

/// <summary>What "stats replication" shows: this node's role and positions, and the replicas streaming from it.</summary>
public sealed class ReplicationState
{
    private readonly ConcurrentDictionary<long, ConnectedReplica> _replicas = new();
    private long _nextReplica;
    private long _fullResyncs;
    private long _partialResyncs;

    public ReplicationState(string primaryId)
    {
        _primaryId = primaryId;
        Acknowledgements = new ReplicaAcknowledgements(() => _replicas.Values);
    }

    /// <summary>Where batches wait for --sync-replicas.</summary>
    public ReplicaAcknowledgements Acknowledgements { get; }

    /// <summary>
    /// True when a coordinator names which replicas count towards --sync-replicas (the in-sync set); otherwise
    /// every connected replica counts.
    /// </summary>
    public bool ReplicasDesignated { get; set; }

    /// <summary>This node's own history id: what replicas of it follow (a promotion starts a new one).</summary>
    public string PrimaryId { get => Volatile.Read(ref _primaryId); set => Volatile.Write(ref _primaryId, value); }

    private string _primaryId;

    /// <summary>Set while this node follows a primary; writes from clients are then refused.</summary>
    public volatile ReplicaLink? Link;

    public bool IsReplica => Link is not null;

    public long FullResyncs => Interlocked.Read(ref _fullResyncs);

    public long PartialResyncs => Interlocked.Read(ref _partialResyncs);

    public ICollection<ConnectedReplica> Replicas => _replicas.Values;

    internal void CountResync(bool full) => Interlocked.Increment(ref full ? ref _fullResyncs : ref _partialResyncs);

    internal ConnectedReplica AddReplica(EndPoint? remote, string? nodeId)
    {
        var replica = new ConnectedReplica(Interlocked.Increment(ref _nextReplica), remote, this) { NodeId = nodeId, Counts = !ReplicasDesignated };
        _replicas[replica.Id] = replica;
        return replica;
    }

    internal void RemoveReplica(ConnectedReplica replica)
    {
        _replicas.TryRemove(replica.Id, out _);
        Acknowledgements.Changed();
    }
}

/// <summary>A replica streaming from this node: the last sequence sent to it and the last it holds durably.</summary>
public sealed class ConnectedReplica(long id, EndPoint? remote, ReplicationState state)
{
    private long _sent;
    private long _acknowledged = -1;
    private volatile bool _counts;

    public long Id { get; } = id;

    public EndPoint? Remote { get; } = remote;

    /// <summary>The node id the replica announced (with --etcd), else null.</summary>
    public string? NodeId { get; internal set; }

    public ulong SentSequence => (ulong)Interlocked.Read(ref _sent);

    /// <summary>The last primary sequence the replica reported as durable under its own fsync policy.</summary>
    public ulong AcknowledgedSequence => (ulong)Math.Max(0, Interlocked.Read(ref _acknowledged));

    /// <summary>False until the replica's first acknowledgement (it is still in a full resync, or just connected).</summary>
    public bool HasAcknowledged => Interlocked.Read(ref _acknowledged) >= 0;

    /// <summary>Whether its acknowledgements count towards --sync-replicas.</summary>
    public bool Counts
    {
        get => _counts;
        set
        {
            _counts = value;
            state.Acknowledgements.Changed();
        }
    }

    internal void Sent(ulong sequence) => Interlocked.Exchange(ref _sent, (long)sequence);

    internal void Acknowledged(ulong sequence)
    {
        Interlocked.Exchange(ref _acknowledged, (long)sequence);
        state.Acknowledgements.Changed();
    }
}

/// <summary>This replica's side of the link: whom it follows and how far it has got.</summary>
public sealed class ReplicaLink(string host, int port)
{
    private long _applied;
    private long _primaryLast;

    public string Host { get; } = host;

    public int Port { get; } = port;

    /// <summary>The primary's replication id this replica follows; null before the first sync.</summary>
    public string? ReplicationId { get; internal set; }

    public bool Connected { get; internal set; }

    /// <summary>The last primary sequence applied here.</summary>
    public ulong AppliedSequence
    {
        get => (ulong)Interlocked.Read(ref _applied);
        internal set => Interlocked.Exchange(ref _applied, (long)value);
    }

    /// <summary>The primary's last written sequence, as its latest heartbeat or record said.</summary>
    public ulong PrimarySequence
    {
        get => (ulong)Interlocked.Read(ref _primaryLast);
        internal set => Interlocked.Exchange(ref _primaryLast, (long)value);
    }

    /// <summary>Records the primary has that this replica has not applied yet.</summary>
    public ulong LagRecords => PrimarySequence > AppliedSequence ? PrimarySequence - AppliedSequence : 0;
}
