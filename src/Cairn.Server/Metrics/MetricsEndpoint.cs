using System.Net;
using Cairn.Server.Hosting;
using Cairn.Server.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Cairn.Server.Metrics;

/// <summary>
/// `--metrics-port`: an HTTP listener beside the memcached ones, serving <see cref="CairnMeter"/> in Prometheus text
/// format at /metrics through OpenTelemetry's exporter, whose provider lives in this server's service container.
/// </summary>
public static class MetricsEndpoint
{
    /// <summary>The first -l address (loopback when none is given), on the metrics port.</summary>
    public static IPEndPoint Address(ServerOptions options)
    {
        var port = options.MetricsPort ?? throw new InvalidOperationException("no --metrics-port");
        return new IPEndPoint(ListenAddress.Parse(options.ListenAddressesOrDefault[0], port).EndPoint.Address, port);
    }

    public static void Listen(KestrelServerOptions kestrel, ServerOptions options) =>
        kestrel.Listen(Address(options), listen => listen.Protocols = HttpProtocols.Http1);

    public static void Register(IServiceCollection services, ServerContext context)
    {
        services.AddSingleton(_ => new CairnMeter(context));
        services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(CairnMeter.Name).AddPrometheusExporter());
    }

    public static void Map(WebApplication app)
    {
        // The meter must exist before the first scrape; the container disposes it with the server.
        _ = app.Services.GetRequiredService<CairnMeter>();
        app.MapPrometheusScrapingEndpoint("/metrics");
    }
}
