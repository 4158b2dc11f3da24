using Etcdserverpb;

namespace Cairn.Replication.Failover;

/// <summary>
/// This node's etcd lease and how long it is surely still valid. A renewal sent at local time t and answered with TTL
/// T means etcd will not expire the lease before t + T (etcd starts counting when it receives the renewal, after t), so
/// the node may act as primary until t + T less a margin; it renews every third of the TTL, so two renewals in a row
/// must fail before that point passes. Measured against a real etcd in the failover tests.
/// </summary>
public sealed class NodeLease : IAsyncDisposable
{
    private readonly EtcdCluster _cluster;
    private readonly TimeProvider _time;
    private readonly TimeSpan _ttl;
    private readonly TimeSpan _margin;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _renewing;
    private long _validUntil;

    private NodeLease(EtcdCluster cluster, long id, int ttlSeconds, TimeProvider time, long grantedAt)
    {
        _cluster = cluster;
        _time = time;
        Id = id;
        _ttl = TimeSpan.FromSeconds(ttlSeconds);
        _margin = _ttl / 3;
        _validUntil = grantedAt + (long)(_ttl.TotalSeconds * time.TimestampFrequency);
        _renewing = RenewAsync(_stop.Token);
    }

    public long Id { get; }

    /// <summary>
    /// True once etcd said the lease expired, or once it may have (no renewal answered within its TTL): a new one must
    /// be granted. A lease given up too early costs only a revocation; one kept too long would never be renewed.
    /// </summary>
    public bool Expired => _expired || _time.GetTimestamp() > Volatile.Read(ref _validUntil);

    private volatile bool _expired;

    /// <summary>How long before the lease's earliest possible expiry this node stops acting as primary.</summary>
    public TimeSpan Margin => _margin;

    /// <summary>True while the lease is certainly held, with the margin to spare.</summary>
    public bool IsSafelyHeld => !Expired && _time.GetTimestamp() < Volatile.Read(ref _validUntil) - (long)(_margin.TotalSeconds * _time.TimestampFrequency);

    public static async Task<NodeLease> GrantAsync(EtcdCluster cluster, int ttlSeconds, TimeProvider time, CancellationToken cancellationToken)
    {
        var sentAt = time.GetTimestamp();
        var id = await cluster.GrantLeaseAsync(ttlSeconds, cancellationToken);
        return new NodeLease(cluster, id, ttlSeconds, time, sentAt);
    }

    private async Task RenewAsync(CancellationToken stopping)
    {
        var interval = _ttl / 3;
        while (!stopping.IsCancellationRequested && !Expired)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                using var call = _cluster.OpenKeepAlive(timeout.Token);
                while (!stopping.IsCancellationRequested)
                {
                    var sentAt = _time.GetTimestamp();
                    timeout.CancelAfter(interval);
                    await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = Id }, timeout.Token);
                    if (!await call.ResponseStream.MoveNext(timeout.Token))
                    {
                        break;
                    }

                    timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                    var answer = call.ResponseStream.Current;
                    if (answer.TTL <= 0)
                    {
                        _expired = true;
                        return;
                    }

                    Volatile.Write(ref _validUntil, sentAt + (long)(answer.TTL * _time.TimestampFrequency));
                    await Task.Delay(interval, _time, stopping);
                }
            }
            catch (Exception) when (!stopping.IsCancellationRequested)
            {
                // Whatever the failure (etcd unreachable, slow, a stream cut mid-call), the validity simply runs down and
                // the renewal is tried again on a new stream; this loop must outlive any one failure.
                if (!stopping.IsCancellationRequested)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time, CancellationToken.None);
                }
            }
        }
    }

    /// <summary>Stops renewing and, when etcd answers, revokes the lease so another node need not wait out the TTL.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _renewing;
        }
        catch (OperationCanceledException)
        {
        }

        try
        {
            await _cluster.RevokeLeaseAsync(Id, CancellationToken.None);
        }
        catch (Grpc.Core.RpcException)
        {
        }

        _stop.Dispose();
    }
}
