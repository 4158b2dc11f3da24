using System.Net;
using Cairn.Server.Connections;
using Cairn.Server.Tls;
using Cairn.Server.Transport;
using Cairn.Storage;
using Cairn.Storage.Durability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Hosting;

/// <summary>
/// The whole server as one object: the store, Kestrel listeners carrying the memcached protocol, and a
/// graceful stop. The executable and the in-process tests both start it through here.
/// </summary>
public sealed class CairnServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly IItemStore _store;
    private bool _disposed;

    private readonly DurableStore? _durability;
    private IdleConnectionReaper? _idleReaper;
    private ILoggerFactory? _loggerFactory;

    private readonly EventLoopEngine _engine;

    private CairnServer(WebApplication app, EventLoopEngine engine, ServerContext context, IItemStore store, DurableStore? durability)
    {
        _app = app;
        _engine = engine;
        Context = context;
        _store = store;
        _durability = durability;
    }

    public ServerContext Context { get; }

    /// <summary>The TCP endpoints actually bound (port 0 resolved), available after <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    /// <summary>The subset of <see cref="EndPoints"/> that speaks TLS (-Z without notls:).</summary>
    public IReadOnlyList<IPEndPoint> TlsEndPoints { get; private set; } = [];

    /// <summary>Where /metrics is served (--metrics-port), or null.</summary>
    public IPEndPoint? MetricsEndPoint { get; private set; }

    public IHostApplicationLifetime Lifetime => _app.Lifetime;

    public static CairnServer Create(ServerOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        time ??= TimeProvider.System;

        // Certificates are read before the log is opened, so a bad -Z setup fails without touching the data directory.
        var tls = TlsListenerSettings.Create(options.Tls);
        var store = new SlabItemStore(options.ToStoreOptions(time));
        DurableStore? durability = null;
        // The filter reads the context's verbosity once there is a context ("verbosity N" at run time), the flag before.
        ServerContext? context = null;
        var loggerFactory = ServerLogging.CreateFactory(options, () => context?.Verbosity ?? options.Verbosity, configureLogging);
        var replicationLogger = loggerFactory.CreateLogger("Cairn.Replication");
        if (options.Persist)
        {
            try
            {
                StartupException.CheckDataDirectory(options.DataDirectory);

                // Replays the log before anything listens, so the first client sees everything acknowledged.
                durability = DurableStore.Open(store, options.ToDurabilityOptions(time, loggerFactory.CreateLogger("Cairn.Storage")));
            }
            catch
            {
                store.Dispose();
                loggerFactory.Dispose();
                throw;
            }
        }

        try
        {
            // Reads the password files; a bad one must not leave the data directory locked behind it.
            context = new ServerContext(store, options, time, durability);
            if (durability is not null)
            {
                context.Replication = new ReplicationControl(durability, options, time, replicationLogger);
                if (options.EtcdEndpoints is { } etcd)
                {
                    context.Replication.Coordinator = new Cairn.Replication.Failover.FailoverCoordinator(
                        new Cairn.Replication.Failover.EtcdCluster(etcd, options.ClusterName!),
                        context.Replication,
                        new Cairn.Replication.Failover.FailoverOptions(options.NodeId!, options.Advertise!, options.LeaseTtlSeconds, options.SyncReplicas, options.SyncTimeout),
                        time,
                        replicationLogger);
                }
            }
        }
        catch
        {
            durability?.Dispose();
            store.Dispose();
            loggerFactory.Dispose();
            throw;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });

        // The host logs through the factory the storage layer already uses; this server disposes it.
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<ILoggerFactory>(loggerFactory);

        builder.Services.AddSingleton(context);
        if (options.MetricsPort is not null)
        {
            Metrics.MetricsEndpoint.Register(builder.Services, context);
        }

        // Registered before Kestrel looks for one, so its transports take this pool (see BoundedBlockMemoryPool for why).
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, BoundedBlockMemoryPoolFactory>();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));

        // Kestrel keeps only what needs a pipe over a stream: TLS listeners and /metrics. Its socket transport runs
        // their continuations where the socket completes instead of hopping to the thread pool and an I/O queue per
        // batch (bench/context_switches.py: 0.57 switches and 29 us of CPU per request with the hops, 0.08 and 19 without).
        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        var tlsListeners = TcpListeners(options).Where(address => OnKestrel(options, address)).ToList();
        if (tlsListeners.Count == 0 && options.MetricsPort is null)
        {
            // Kestrel with no endpoint would listen on localhost:5000.
            builder.Services.AddSingleton<IServer, NoListeners>();
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // A storage command is answered only once its whole data block is buffered, so the per-connection
            // read buffer must hold the largest item; multi-key get lines are bounded separately.
            kestrel.Limits.MaxRequestBufferSize = Math.Max(options.MaxItemSize, options.MaxGetLineLength) + (64 * 1024);

            foreach (var address in tlsListeners)
            {
                // Kestrel's TLS middleware is not HTTP-specific: it hands the handler a pipe over the SslStream.
                kestrel.Listen(address.EndPoint, listen =>
                {
                    listen.UseHttps(tls!);
                    listen.UseConnectionHandler<MemcachedConnectionHandler>();
                });
            }

            if (options.MetricsPort is not null)
            {
                Metrics.MetricsEndpoint.Listen(kestrel, options);
            }

        });

        var app = builder.Build();
        context.Log.Logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Cairn.Server");
        context.Stopping = app.Lifetime.ApplicationStopping;
        var engine = new EventLoopEngine(context, loggerFactory.CreateLogger<MemcachedConnectionHandler>());
        var server = new CairnServer(app, engine, context, store, durability) { _loggerFactory = loggerFactory };
        if (options.MetricsPort is not null)
        {
            Metrics.MetricsEndpoint.Map(app);
        }

        context.ShutdownRequested += () => app.Lifetime.StopApplication();
        app.Lifetime.ApplicationStopping.Register(engine.Stop);
        app.Lifetime.ApplicationStopping.Register(context.Connections.StopAll);
        return server;
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // A replica is read-only before its first client can connect.
        if (Context.Options.ReplicaOf is { } primary && Context.Replication is { } replication)
        {
            var (host, port) = CommandLine.ParseHostPort(primary, "--replica-of");
            await replication.FollowAsync(host, port);
        }

        var options = Context.Options;
        var plainEndPoints = new List<IPEndPoint>();
        try
        {
            foreach (var address in TcpListeners(options).Where(address => !OnKestrel(options, address)))
            {
                plainEndPoints.Add(_engine.Listen(address.EndPoint));
            }

            if (options.UnixSocketPath is not null)
            {
                StartupException.RemoveStaleUnixSocket(options.UnixSocketPath);

                // The unix socket stays plain, as in memcached: only local processes reach it.
                _engine.ListenUnix(options.UnixSocketPath);
            }

            _engine.Start();
            await _app.StartAsync(cancellationToken);
        }
        catch (Exception error) when (error is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            throw StartupException.FromBindFailure(error, Context.Options);
        }

        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var kestrelTls = new Queue<IPEndPoint>();
        foreach (var address in addresses)
        {
            // Kestrel names a listener with TLS middleware https://, /metrics http://.
            if (Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
            {
                if (uri.Scheme == "https")
                {
                    kestrelTls.Enqueue(new IPEndPoint(ip, uri.Port));
                }
                else
                {
                    MetricsEndPoint = new IPEndPoint(ip, uri.Port);
                }
            }
        }

        // In -l order, whichever server bound each.
        var endPoints = new List<IPEndPoint>();
        var tlsEndPoints = new List<IPEndPoint>();
        var plain = new Queue<IPEndPoint>(plainEndPoints);
        foreach (var address in TcpListeners(options))
        {
            if (!OnKestrel(options, address))
            {
                endPoints.Add(plain.Dequeue());
            }
            else if (kestrelTls.TryDequeue(out var tlsEndPoint))
            {
                endPoints.Add(tlsEndPoint);
                tlsEndPoints.Add(tlsEndPoint);
            }
        }

        EndPoints = endPoints;
        TlsEndPoints = tlsEndPoints;

        // Listening first: once elected, replicas must be able to connect at once.
        Context.Replication?.Coordinator?.Start();
        if (Context.Options.IdleTimeoutSeconds > 0)
        {
            _idleReaper = new IdleConnectionReaper(Context);
        }

        Context.Listeners = [.. endPoints, .. Context.Options.UnixSocketPath is null ? Array.Empty<EndPoint?>() : [null]];
        if (Context.Options.UnixSocketPath is { } socketPath && OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(socketPath, (UnixFileMode)Context.Options.UnixSocketMask);
        }
    }

    private static IEnumerable<ListenAddress> TcpListeners(ServerOptions options) =>
        options.TcpEnabled ? options.ListenAddressesOrDefault.Select(text => ListenAddress.Parse(text, options.Port)) : [];

    /// <summary>TLS listeners stay on Kestrel (its middleware gives a pipe over SslStream); plain ones go to the event loops.</summary>
    private static bool OnKestrel(ServerOptions options, ListenAddress address) => options.Tls.Enabled && !address.Plain;

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _idleReaper?.Dispose();
        _engine.Stop();
        await _app.DisposeAsync();

        // Before the log closes: a connection finishing its batch may still be waiting on it.
        await _engine.DisposeAsync();

        // Connections are gone; write and sync what the log still holds before the memory goes.
        if (Context.Replication is { } replicationControl)
        {
            await replicationControl.DisposeAsync();
        }

        _durability?.Dispose();
        _store.Dispose();

        // Last: closing the log and replication may still have something to say.
        _loggerFactory?.Dispose();
    }
}

/// <summary>The host's server when nothing needs Kestrel (no TLS listener, no /metrics): Kestrel would otherwise listen on localhost:5000.</summary>
internal sealed class NoListeners : IServer
{
    public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

    public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
        where TContext : notnull => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
    }
}
