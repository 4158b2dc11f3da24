using Microsoft.Extensions.Logging;

namespace Cairn.Replication;

/// <summary>
/// Replication and failover events (ids 200-299, stable: operators alert on them). A role change is a warning,
/// since it means the cluster lost or regained a member; a link retry is information.
/// </summary>
internal static partial class ReplicationLog
{
    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "replication: link to {Host}:{Port} lost ({Reason}); retrying")]
    public static partial void LinkLost(ILogger logger, string host, int port, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "replication: full resync from {Host}:{Port} (replication id {ReplicationId})")]
    public static partial void FullResyncFrom(ILogger logger, string host, int port, string replicationId);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "replication: discarding this node's own history ({Records} records, {Bytes} bytes of log) for the new primary's; any write in it the new primary lacks was never acknowledged with --sync-replicas. Kept aside in {KeptIn}")]
    public static partial void HistoryDiscarded(ILogger logger, ulong records, long bytes, string keptIn);

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "replication: replica {Replica} asked for sequence {Asked}, beyond this primary's {Last}; sending a full resync")]
    public static partial void ReplicaAheadOfPrimary(ILogger logger, object? replica, ulong asked, ulong last);

    [LoggerMessage(EventId = 211, Level = LogLevel.Information, Message = "replication: replica {Replica} holds history {ReplicationId}, not this primary's; sending a full resync")]
    public static partial void ReplicaOtherHistory(ILogger logger, object? replica, string replicationId);

    [LoggerMessage(EventId = 212, Level = LogLevel.Information, Message = "replication: stream to {Replica} ended: {Reason}")]
    public static partial void StreamEnded(ILogger logger, object? replica, string reason);

    [LoggerMessage(EventId = 230, Level = LogLevel.Warning, Message = "failover: etcd answers again")]
    public static partial void EtcdBack(ILogger logger);

    [LoggerMessage(EventId = 231, Level = LogLevel.Error, Message = "failover: etcd unreachable or refusing ({Kind}: {Reason}; failed attempt {Attempt}); {Consequence}")]
    public static partial void EtcdTrouble(ILogger logger, string kind, string reason, long attempt, string consequence);

    [LoggerMessage(EventId = 232, Level = LogLevel.Information, Message = "failover: revoked the lease this node held before it restarted")]
    public static partial void StaleLeaseRevoked(ILogger logger);

    [LoggerMessage(EventId = 233, Level = LogLevel.Warning, Message = "failover: {NodeId} elected primary at sequence {Sequence} (lease {LeaseId:x}, ttl {TtlSeconds}s)")]
    public static partial void Elected(ILogger logger, string nodeId, ulong sequence, long leaseId, int ttlSeconds);

    [LoggerMessage(EventId = 234, Level = LogLevel.Warning, Message = "failover: {NodeId} is no longer primary: {Reason}")]
    public static partial void Deposed(ILogger logger, string nodeId, string reason);

    [LoggerMessage(EventId = 235, Level = LogLevel.Information, Message = "failover: following {Leader} at {Advertise}")]
    public static partial void Following(ILogger logger, string leader, string advertise);

    [LoggerMessage(EventId = 236, Level = LogLevel.Warning, Message = "failover: {Member} left the sync set ({Why})")]
    public static partial void LeftSyncSet(ILogger logger, string member, string why);

    [LoggerMessage(EventId = 237, Level = LogLevel.Information, Message = "failover: {Member} joined the sync set at sequence {Sequence}")]
    public static partial void JoinedSyncSet(ILogger logger, string? member, ulong sequence);
}
