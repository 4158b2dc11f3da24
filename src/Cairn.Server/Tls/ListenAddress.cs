using System.Globalization;
using System.Net;
using Cairn.Server.Hosting;

namespace Cairn.Server.Tls;

/// <summary>One -l entry: [notls:]ADDR[:PORT], with [v6] brackets when a port follows an IPv6 address.</summary>
public readonly record struct ListenAddress(IPEndPoint EndPoint, bool Plain)
{
    public static ListenAddress Parse(string text, int defaultPort)
    {
        var plain = text.StartsWith(TlsOptions.PlainListenerPrefix, StringComparison.OrdinalIgnoreCase);
        var address = plain ? text[TlsOptions.PlainListenerPrefix.Length..] : text;
        var port = defaultPort;
        string host;
        if (address.StartsWith('['))
        {
            var close = address.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new CommandLineException($"cannot listen on '{text}': no closing ']'");
            }

            host = address[1..close];
            var rest = address[(close + 1)..];
            if (rest.Length > 0)
            {
                port = rest[0] == ':' ? ParsePort(rest[1..], text) : throw new CommandLineException($"cannot listen on '{text}'");
            }
        }
        else if (address.Count(c => c == ':') == 1)
        {
            var colon = address.IndexOf(':', StringComparison.Ordinal);
            host = address[..colon];
            port = ParsePort(address[(colon + 1)..], text);
        }
        else
        {
            // A bare IPv6 address (::1) has several colons and no port.
            host = address;
        }

        return new ListenAddress(new IPEndPoint(ParseHost(host, text), port), plain);
    }

    private static int ParsePort(string port, string text) =>
        int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number <= 65535
            ? number
            : throw new CommandLineException($"cannot listen on '{text}': bad port '{port}'");

    private static IPAddress ParseHost(string host, string text)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return IPAddress.Loopback;
        }

        return IPAddress.TryParse(host, out var ip) ? ip : throw new CommandLineException($"cannot listen on '{text}': not an IP address");
    }
}
