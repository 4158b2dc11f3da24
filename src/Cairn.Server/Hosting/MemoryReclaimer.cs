namespace Cairn.Server.Hosting;

/// <summary>
/// Gives memory back after a burst. Buffers the transport pool let go (BoundedBlockMemoryPool) and closed connections'
/// objects are garbage the GC reclaims only when it runs, and a quiet server allocates nothing, so none runs. Every
/// 30 s, when connections have closed since the last look, this asks for a background collection.
/// </summary>
public sealed class MemoryReclaimer : IDisposable
{
    private readonly ServerContext _context;
    private readonly ITimer _timer;
    private long _closedAtLastLook;

    public MemoryReclaimer(ServerContext context)
    {
        _context = context;
        _timer = context.Time.CreateTimer(static state => ((MemoryReclaimer)state!).Look(), this, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
    }

    private void Look()
    {
        var statistics = _context.Statistics;
        long closed = statistics.TotalConnections - statistics.CurrentConnections;
        if (closed == _closedAtLastLook)
        {
            return;
        }

        _closedAtLastLook = closed;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Default, blocking: false);
    }

    public void Dispose() => _timer.Dispose();
}
