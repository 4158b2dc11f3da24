using System.Collections.Concurrent;
using System.Net;

namespace Cairn.Server.Hosting;

/// <summary>Live connections, for "stats conns" and for stopping them all on shutdown.</summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, ConnectionInfo> _connections = new();
    /// <summary>Connections number from 64 up, so "stats conns" can number the listening sockets below them, as memcached's fds are.</summary>
    private long _nextId = 63;

    public ConnectionInfo Add(EndPoint? remote, EndPoint? local, Action abort, long nowUnixSeconds = 0)
    {
        var info = new ConnectionInfo(Interlocked.Increment(ref _nextId), remote, local, abort) { OpenedUnixSeconds = nowUnixSeconds };
        _connections[info.Id] = info;
        return info;
    }

    public void Remove(ConnectionInfo info) => _connections.TryRemove(info.Id, out _);

    public ICollection<ConnectionInfo> Snapshot() => _connections.Values;

    public void StopAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Stop();
        }
    }
}

public sealed class ConnectionInfo(long id, EndPoint? remote, EndPoint? local, Action stop)
{
    public long Id { get; } = id;

    public EndPoint? Remote { get; } = remote;

    public EndPoint? Local { get; } = local;

    public long LastCommandUnixSeconds { get; set; }

    public long OpenedUnixSeconds { get; init; }

    /// <summary>When the client last did anything: its last command, or its arrival.</summary>
    public long LastActiveUnixSeconds => Math.Max(LastCommandUnixSeconds, OpenedUnixSeconds);

    public string State { get; set; } = "conn_new_cmd";

    public void Stop() => stop();
}
