using System.Net;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Cairn.Tests.Support;

/// <summary>The real server, in process, on a loopback port chosen by the OS.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly string? _ownedDataDirectory;

    private TestServer(CairnServer server, string? ownedDataDirectory)
    {
        Server = server;
        _ownedDataDirectory = ownedDataDirectory;
    }

    public CairnServer Server { get; }

    public IPEndPoint EndPoint => Server.EndPoints[0];

    public int Port => EndPoint.Port;

    public static async Task<TestServer> StartAsync(Action<ServerOptions>? configure = null, TimeProvider? time = null)
    {
        // Each server logs into a directory of its own, removed when it stops, unless the test names one.
        var ownedDirectory = Path.Combine(Path.GetTempPath(), "cairn-test-" + Guid.NewGuid().ToString("N"));
        var options = new ServerOptions { Port = 0, PortGiven = true, DataDirectory = ownedDirectory };
        configure?.Invoke(options);
        var owned = options.DataDirectory == ownedDirectory ? ownedDirectory : null;
        var server = CairnServer.Create(options, time, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        return new TestServer(server, owned);
    }

    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(EndPoint);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await Server.StopAsync(timeout.Token);
        await Server.DisposeAsync();
        if (_ownedDataDirectory is not null && Directory.Exists(_ownedDataDirectory))
        {
            Directory.Delete(_ownedDataDirectory, recursive: true);
        }
    }
}
