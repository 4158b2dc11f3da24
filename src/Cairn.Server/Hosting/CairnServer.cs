using System.Net;
using Cairn.Server.Connections;
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

    private CairnServer(WebApplication app, ServerContext context, IItemStore store, DurableStore? durability)
    {
        _app = app;
        Context = context;
        _store = store;
        _durability = durability;
    }

    public ServerContext Context { get; }

    /// <summary>The TCP endpoints actually bound (port 0 resolved), available after <see cref="StartAsync"/>.</summary>
    public IReadOnlyList<IPEndPoint> EndPoints { get; private set; } = [];

    public IHostApplicationLifetime Lifetime => _app.Lifetime;

    public static CairnServer Create(ServerOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        time ??= TimeProvider.System;
        var store = new SlabItemStore(options.ToStoreOptions(time));
        DurableStore? durability = null;
        if (options.Persist)
        {
            try
            {
                // Replays the log before anything listens, so the first client sees everything acknowledged.
                Action<string>? report = configureLogging is null ? message => Console.Error.WriteLine($"cairn-server: {message}") : null;
                durability = DurableStore.Open(store, options.ToDurabilityOptions(time, report));
            }
            catch
            {
                store.Dispose();
                throw;
            }
        }

        var context = new ServerContext(store, options, time, durability);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.Logging.ClearProviders();
        if (configureLogging is null)
        {
            builder.Logging.AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss ";
            });
            builder.Logging.SetMinimumLevel(options.Verbosity switch
            {
                0 => LogLevel.Warning,
                1 => LogLevel.Information,
                _ => LogLevel.Debug,
            });
            builder.Logging.AddFilter("Microsoft", options.Verbosity >= 2 ? LogLevel.Information : LogLevel.Warning);

            // The generic host's lifetime lines speak of HTTP and Ctrl+C; Cairn prints its own listening line.
            builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        builder.Services.AddSingleton(context);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;

            // A storage command is answered only once its whole data block is buffered, so the per-connection
            // read buffer must hold the largest item; multi-key get lines are bounded separately.
            kestrel.Limits.MaxRequestBufferSize = Math.Max(options.MaxItemSize, TextProtocolSession.MaxMultiGetLineLength) + (64 * 1024);

            if (options.TcpEnabled)
            {
                var addresses = options.ListenAddresses.Count == 0 ? ["127.0.0.1"] : options.ListenAddresses;
                foreach (var address in addresses)
                {
                    kestrel.Listen(new IPEndPoint(ParseAddress(address), options.Port), listen => listen.UseConnectionHandler<MemcachedConnectionHandler>());
                }
            }

            if (options.UnixSocketPath is not null)
            {
                kestrel.ListenUnixSocket(options.UnixSocketPath, listen => listen.UseConnectionHandler<MemcachedConnectionHandler>());
            }
        });

        var app = builder.Build();
        var server = new CairnServer(app, context, store, durability);
        context.ShutdownRequested += () => app.Lifetime.StopApplication();
        app.Lifetime.ApplicationStopping.Register(context.Connections.StopAll);
        return server;
    }

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _app.StartAsync(cancellationToken);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var endPoints = new List<IPEndPoint>();
        foreach (var address in addresses)
        {
            if (Uri.TryCreate(address, UriKind.Absolute, out var uri) && uri.Scheme == "http" && IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip))
            {
                endPoints.Add(new IPEndPoint(ip, uri.Port));
            }
        }

        EndPoints = endPoints;
        if (Context.Options.UnixSocketPath is { } socketPath && OperatingSystem.IsLinux())
        {
            File.SetUnixFileMode(socketPath, (UnixFileMode)Context.Options.UnixSocketMask);
        }
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken = default) => _app.WaitForShutdownAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _app.DisposeAsync();

        // Connections are gone; write and sync what the log still holds before the memory goes.
        _durability?.Dispose();
        _store.Dispose();
    }

    private static IPAddress ParseAddress(string address)
    {
        if (address.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        if (IPAddress.TryParse(address.Trim('[', ']'), out var ip))
        {
            return ip;
        }

        throw new CommandLineException($"cannot listen on '{address}': not an IP address");
    }
}
