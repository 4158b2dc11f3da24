using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;

namespace Cairn.Replication.Failover;

/// <summary>
/// The few etcd operations failover needs, each with a deadline so an unreachable etcd (stopped, partitioned) turns
/// into an exception within a second instead of a hung coordinator. Keys live under /cairn/&lt;cluster&gt;/.
/// </summary>
public sealed class EtcdCluster : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(1);

    private readonly EtcdClient _client;
    private readonly ByteString _leaderKey;
    private readonly ByteString _syncKey;

    public EtcdCluster(string endpoints, string cluster)
    {
        _client = new EtcdClient(endpoints);
        _leaderKey = ByteString.CopyFromUtf8($"/cairn/{cluster}/leader");
        _syncKey = ByteString.CopyFromUtf8($"/cairn/{cluster}/sync");
    }

    public string LeaderKey => _leaderKey.ToStringUtf8();

    public async Task<long> GrantLeaseAsync(int ttlSeconds, CancellationToken cancellationToken)
    {
        var granted = await _client.LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, deadline: Deadline(), cancellationToken: cancellationToken);
        return granted.ID;
    }

    public async Task RevokeLeaseAsync(long lease, CancellationToken cancellationToken) =>
        await _client.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: Deadline(), cancellationToken: cancellationToken);

    /// <summary>A stream to renew leases: each request is answered with the TTL left (0: the lease expired).</summary>
    public Grpc.Core.AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse> OpenKeepAlive(CancellationToken cancellationToken) =>
        _client.GetConnection().LeaseClient.LeaseKeepAlive(cancellationToken: cancellationToken);

    /// <summary>The leader key's record and the lease holding it; (null, 0) when nobody leads.</summary>
    public async Task<(LeaderRecord? Leader, long Lease)> ReadLeaderAsync(CancellationToken cancellationToken)
    {
        var response = await _client.GetAsync(new RangeRequest { Key = _leaderKey }, deadline: Deadline(), cancellationToken: cancellationToken);
        return response.Kvs.Count == 0 ? (null, 0) : (LeaderRecord.Parse(response.Kvs[0].Value.ToStringUtf8()), response.Kvs[0].Lease);
    }

    public async Task<SyncSet?> ReadSyncSetAsync(CancellationToken cancellationToken)
    {
        var response = await _client.GetAsync(new RangeRequest { Key = _syncKey }, deadline: Deadline(), cancellationToken: cancellationToken);
        return response.Kvs.Count == 0 ? null : SyncSet.Parse(response.Kvs[0].Value.ToStringUtf8());
    }

    /// <summary>Campaigns: takes the leader key with <paramref name="lease"/> only if nobody holds it.</summary>
    public async Task<bool> TryAcquireLeaderAsync(long lease, LeaderRecord record, CancellationToken cancellationToken)
    {
        var transaction = new TxnRequest();
        transaction.Compare.Add(new Compare { Key = _leaderKey, Target = Compare.Types.CompareTarget.Create, Result = Compare.Types.CompareResult.Equal, CreateRevision = 0 });
        transaction.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _leaderKey, Value = ByteString.CopyFromUtf8(record.Format()), Lease = lease } });
        var response = await _client.TransactionAsync(transaction, deadline: Deadline(), cancellationToken: cancellationToken);
        return response.Succeeded;
    }

    /// <summary>
    /// Writes the sync set only while the leader key is still held by <paramref name="lease"/>: a primary that lost its
    /// lease cannot rewrite who may be elected after it.
    /// </summary>
    public async Task<bool> TryWriteSyncSetAsync(long lease, SyncSet set, CancellationToken cancellationToken)
    {
        var transaction = new TxnRequest();
        transaction.Compare.Add(new Compare { Key = _leaderKey, Target = Compare.Types.CompareTarget.Lease, Result = Compare.Types.CompareResult.Equal, Lease = lease });
        transaction.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _syncKey, Value = ByteString.CopyFromUtf8(set.Format()) } });
        var response = await _client.TransactionAsync(transaction, deadline: Deadline(), cancellationToken: cancellationToken);
        return response.Succeeded;
    }

    public void Dispose() => _client.Dispose();

    private static DateTime Deadline() => DateTime.UtcNow + CallTimeout;
}
