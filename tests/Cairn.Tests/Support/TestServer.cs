using System.Net;
using Cairn.Server.Hosting;
using Microsoft.Extensions.Logging;

namespace Cairn.Tests.Support;

/// <summary>The real server, in process, on a loopback port chosen by the OS.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private TestServer(CairnServer server)
    {
        Server = server;
    }

    public CairnServer Server { get; }

    public IPEndPoint EndPoint => Server.EndPoints[0];

    public int Port => EndPoint.Port;

    public static async Task<TestServer> StartAsync(Action<ServerOptions>? configure = null, TimeProvider? time = null)
    {
        var options = new ServerOptions { Port = 0, PortGiven = true };
        configure?.Invoke(options);
        var server = CairnServer.Create(options, time, logging => logging.SetMinimumLevel(LogLevel.Warning));
        await server.StartAsync();
        return new TestServer(server);
    }

    public Task<TestClient> ConnectAsync() => TestClient.ConnectAsync(EndPoint);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await Server.StopAsync(timeout.Token);
        await Server.DisposeAsync();
    }
}
