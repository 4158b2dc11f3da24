using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Cairn.Cli.Connection;

/// <summary>`host:port`, `[v6]:port` or a bare host (port 9889).</summary>
internal sealed record ServerAddress(string Host, int Port)
{
    public const string Default = "127.0.0.1:9889";

    public static ServerAddress Parse(string text)
    {
        var host = text;
        var port = 9889;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new UsageException($"bad --server address '{text}'");
            }

            host = text[1..close];
            if (close + 1 < text.Length)
            {
                port = ParsePort(text, text[(close + 1)..]);
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            port = ParsePort(text, text[colon..]);
        }

        return host.Length == 0 ? throw new UsageException($"bad --server address '{text}'") : new ServerAddress(host, port);
    }

    public async Task<IPEndPoint> ResolveAsync(CancellationToken cancellation)
    {
        if (IPAddress.TryParse(Host, out var address))
        {
            return new IPEndPoint(address, Port);
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(Host, cancellation);
            return addresses.Length == 0
                ? throw new ServerUnreachableException($"cannot resolve {Host}")
                : new IPEndPoint(addresses[0], Port);
        }
        catch (SocketException error)
        {
            throw new ServerUnreachableException($"cannot resolve {Host}: {error.Message}", error);
        }
    }

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    private static int ParsePort(string text, string portPart)
    {
        if (portPart.Length < 2 || portPart[0] != ':'
            || !int.TryParse(portPart.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            throw new UsageException($"bad --server address '{text}' (expected host:port)");
        }

        return port;
    }
}
