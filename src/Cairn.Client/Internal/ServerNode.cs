namespace Cairn.Client.Internal;

/// <summary>One server and its small pool of connections, opened lazily and replaced once they fail.</summary>
internal sealed class ServerNode : IAsyncDisposable
{
    private readonly CairnConnection?[] _connections;
    private readonly SemaphoreSlim[] _connecting;
    private readonly TimeSpan _connectTimeout;
    private int _next = -1;
    private bool _disposed;

    public ServerNode(string host, int port, int connections, TimeSpan connectTimeout)
    {
        Host = host;
        Port = port;
        _connections = new CairnConnection?[Math.Max(1, connections)];
        _connecting = _connections.Select(_ => new SemaphoreSlim(1, 1)).ToArray();
        _connectTimeout = connectTimeout;
    }

    public string Host { get; }

    public int Port { get; }

    public string Name => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    public int OpenConnections => _connections.Count(c => c is { IsAlive: true });

    public async ValueTask<CairnConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var slot = (int)((uint)Interlocked.Increment(ref _next) % (uint)_connections.Length);
        var existing = Volatile.Read(ref _connections[slot]);
        if (existing is { IsAlive: true })
        {
            return existing;
        }

        await _connecting[slot].WaitAsync(cancellationToken);
        try
        {
            existing = _connections[slot];
            if (existing is { IsAlive: true })
            {
                return existing;
            }

            if (existing is not null)
            {
                await existing.DisposeAsync();
            }

            var connection = await CairnConnection.ConnectAsync(Host, Port, _connectTimeout, cancellationToken);
            Volatile.Write(ref _connections[slot], connection);
            return connection;
        }
        finally
        {
            _connecting[slot].Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        for (var i = 0; i < _connections.Length; i++)
        {
            if (Interlocked.Exchange(ref _connections[i], null) is { } connection)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
