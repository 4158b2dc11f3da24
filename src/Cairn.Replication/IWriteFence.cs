namespace Cairn.Replication;

/// <summary>What stops a node acknowledging writes it has made durable: for a primary under etcd, a lease it may have lost.</summary>
public interface IWriteFence
{
    /// <summary>Null while acknowledging is safe; else the reason writes are refused or answered with.</summary>
    string? RefusalReason { get; }
}

/// <summary>What a coordinator may do to the node it runs in: follow a primary, or stop following and lead.</summary>
public interface IReplicationRole
{
    ReplicationState State { get; }

    /// <summary>The last sequence this node's log has appended: what a replica must reach before it may be elected.</summary>
    ulong LastAppendedSequence { get; }

    Task FollowAsync(string host, int port);

    Task PromoteAsync();
}
