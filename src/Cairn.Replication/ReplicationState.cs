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
        PrimaryId = primaryId;
    }

    /// <summary>This node's own history id: what replicas of it follow.</summary>
    public string PrimaryId { get; }

    /// <summary>Set while this node follows a primary; writes from clients are then refused.</summary>
    public volatile ReplicaLink? Link;

    public bool IsReplica => Link is not null;

    public long FullResyncs => Interlocked.Read(ref _fullResyncs);

    public long PartialResyncs => Interlocked.Read(ref _partialResyncs);

    public ICollection<ConnectedReplica> Replicas => _replicas.Values;

    internal void CountResync(bool full) => Interlocked.Increment(ref full ? ref _fullResyncs : ref _partialResyncs);

    internal ConnectedReplica AddReplica(EndPoint? remote)
    {
        var replica = new ConnectedReplica(Interlocked.Increment(ref _nextReplica), remote);
        _replicas[replica.Id] = replica;
        return replica;
    }

    internal void RemoveReplica(ConnectedReplica replica) => _replicas.TryRemove(replica.Id, out _);
}

/// <summary>A replica streaming from this node, and the last sequence sent to it.</summary>
public sealed class ConnectedReplica(long id, EndPoint? remote)
{
    private long _sent;

    public long Id { get; } = id;

    public EndPoint? Remote { get; } = remote;

    public ulong SentSequence => (ulong)Interlocked.Read(ref _sent);

    internal void Sent(ulong sequence) => Interlocked.Exchange(ref _sent, (long)sequence);
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
