namespace Cairn.Replication.Failover;

/// <summary>The elected primary as its etcd key says: which node, and where replicas and clients reach it.</summary>
public sealed record LeaderRecord(string NodeId, string Advertise)
{
    public string Format() => $"{NodeId} {Advertise}";

    public static LeaderRecord? Parse(string text) =>
        text.Split(' ') is [var node, var advertise] ? new LeaderRecord(node, advertise) : null;
}

/// <summary>
/// Who may be elected: the primary that wrote it and the replicas every acknowledged write has reached (Patroni's
/// synchronous standbys). The primary adds a replica only once it holds everything acknowledged so far and counts
/// it from then on; it removes one here before it stops counting it. So every node named holds every acknowledged write.
/// </summary>
public sealed record SyncSet(string Leader, IReadOnlyList<string> Replicas)
{
    public string Format() => Replicas.Count == 0 ? $"{Leader} -" : $"{Leader} {string.Join(',', Replicas)}";

    public bool Names(string nodeId) => Leader == nodeId || Replicas.Contains(nodeId);

    public static SyncSet? Parse(string text) => text.Split(' ') is [var leader, var replicas]
        ? new SyncSet(leader, replicas == "-" ? [] : replicas.Split(','))
        : null;
}
