using Cairn.Server.Hosting;

namespace Cairn.Server.Connections;

/// <summary>
/// -o idle_timeout=N, as memcached: once a second, connections waiting for a command that have done nothing for more
/// than N seconds are closed and counted as idle_kicks. One timer for the whole server (not one per connection), on the
/// context's TimeProvider; a connection busy with a request is never closed under it.
/// </summary>
public sealed class IdleConnectionReaper : IDisposable
{
    private readonly ServerContext _context;
    private readonly ITimer _timer;

    public IdleConnectionReaper(ServerContext context)
    {
        _context = context;
        _timer = context.Time.CreateTimer(static state => ((IdleConnectionReaper)state!).Sweep(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    public void Sweep()
    {
        long now = _context.NowUnixSeconds;
        long timeout = _context.Options.IdleTimeoutSeconds;
        foreach (var connection in _context.Connections.Snapshot())
        {
            if (connection.State is "conn_waiting" or "conn_new_cmd" && now - connection.LastActiveUnixSeconds > timeout)
            {
                _context.Statistics.CountIdleKick();
                connection.Stop();
            }
        }
    }

    public void Dispose() => _timer.Dispose();
}
