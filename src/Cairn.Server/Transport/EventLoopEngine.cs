using System.Net;
using System.Net.Sockets;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Transport;

/// <summary>
/// The plain listeners (TCP, IPv6, the unix socket) and the event loops that serve them, one per CPU this process may
/// use, at most -t. Accepting is rare, so it stays on .NET's own socket engine; each accepted connection is handed to
/// the next loop in turn and lives there. TLS listeners stay with Kestrel, whose middleware gives a pipe over SslStream.
/// </summary>
internal sealed class EventLoopEngine : IAsyncDisposable
{
    /// <summary>How long a stop waits for connections to finish their batch before it closes them (Kestrel's was 10 s too).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    private readonly ServerContext _context;
    private readonly ILogger _logger;
    private readonly EventLoop[] _loops;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _accepting = [];
    private int _nextLoop = -1;
    private bool _started;
    private bool _stopped;

    public EventLoopEngine(ServerContext context, ILogger logger)
    {
        _context = context;
        _logger = logger;
        var count = Math.Clamp(context.Options.Threads, 1, Environment.ProcessorCount);
        _loops = new EventLoop[count];
        for (int i = 0; i < count; i++)
        {
            _loops[i] = new EventLoop(i, logger);
        }
    }

    public int LoopCount => _loops.Length;

    /// <summary>Binds and listens; returns the bound endpoint (port 0 resolved). Throws SocketException as bind does.</summary>
    public IPEndPoint Listen(IPEndPoint endPoint)
    {
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                // As Kestrel did for [::]: IPv4 clients too.
                listener.DualMode = true;
            }

            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endPoint);
            listener.Listen(1024);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listeners.Add(listener);
        return (IPEndPoint)listener.LocalEndPoint!;
    }

    public void ListenUnix(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1024);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listeners.Add(listener);
    }

    public void Start()
    {
        _started = true;
        foreach (var loop in _loops)
        {
            loop.Start();
        }

        foreach (var listener in _listeners)
        {
            _accepting.Add(AcceptAsync(listener));
        }
    }

    /// <summary>No new connections; those open are asked to stop after the batch in progress.</summary>
    public void Stop()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        foreach (var loop in _loops)
        {
            loop.BeginEnd();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop();
        await Task.WhenAll(_accepting);
        if (!_started)
        {
            DisposeLoops();
            return;
        }

        var ended = Task.WhenAll(_loops.Select(loop => loop.Ended));
        if (await Task.WhenAny(ended, Task.Delay(StopGrace)) != ended)
        {
            foreach (var loop in _loops)
            {
                loop.ForceEnd();
            }

            await ended;
        }

        // Connections on the pipe loop (a replica's log stream) end once the host's stopping token fires.
        var detached = Task.WhenAll(_loops.Select(loop => loop.DetachedEnded()));
        await Task.WhenAny(detached, Task.Delay(StopGrace));
        DisposeLoops();
    }

    private void DisposeLoops()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }

    private async Task AcceptAsync(Socket listener)
    {
        var tcp = listener.AddressFamily != AddressFamily.Unix;
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await listener.AcceptAsync();
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException)
            {
                if (_stopped)
                {
                    return;
                }

                // A connection reset before it was accepted, or descriptors ran out (then give closes a moment): the
                // listener itself is fine.
                if (error is SocketException { SocketErrorCode: not (SocketError.ConnectionReset or SocketError.ConnectionAborted) })
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(10));
                }

                continue;
            }

            if (tcp)
            {
                accepted.NoDelay = true;
            }

            accepted.Blocking = false;
            var loop = _loops[(uint)Interlocked.Increment(ref _nextLoop) % (uint)_loops.Length];
            loop.Post(() => new LoopConnection(loop, accepted, _context, _logger).Open());
        }
    }
}
