using Cairn.Replication;
using Cairn.Storage.Durability;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's replication seam: the state "stats replication" reads, the primary's streamer the "replicate" command
/// hands a connection to, and the follower --replica-of and "replicaof" start and stop. Null without a persistent log.
/// </summary>
public sealed class ReplicationControl : IAsyncDisposable
{
    private readonly DurableStore _durable;
    private readonly string _dataDirectory;
    private readonly Action<string>? _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ReplicaFollower? _follower;

    public ReplicationControl(DurableStore durable, string dataDirectory, TimeProvider time, Action<string>? log)
    {
        _durable = durable;
        _dataDirectory = dataDirectory;
        _log = log;
        State = new ReplicationState(ReplicationIdentity.LoadOrCreatePrimaryId(dataDirectory));
        Primary = new ReplicationPrimary(durable, State, time);
    }

    public ReplicationState State { get; }

    public ReplicationPrimary Primary { get; }

    /// <summary>Follows the primary at host:port from now on (stopping any previous link first).</summary>
    public Task FollowAsync(string host, int port) => ExclusivelyAsync(async () =>
    {
        await StopFollowingAsync();
        var link = new ReplicaLink(host, port);
        State.Link = link;
        _follower = new ReplicaFollower(_durable, _dataDirectory, link, _log);
    });

    /// <summary>"replicaof no one": stop following and take writes, starting this node's own history.</summary>
    public Task PromoteAsync() => ExclusivelyAsync(async () =>
    {
        await StopFollowingAsync();
        ReplicationIdentity.ForgetReplicaPosition(_dataDirectory);
    });

    public async ValueTask DisposeAsync() => await ExclusivelyAsync(StopFollowingAsync);

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
