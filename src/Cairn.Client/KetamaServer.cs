using System.Globalization;

namespace Cairn.Client;

/// <summary>
/// One server in a ketama ring: its host and port as the ring names them, and its weight (used only by
/// <see cref="KetamaMode.KetamaWeighted"/>, as libmemcached and twemproxy use it).
/// </summary>
/// <param name="Host">The host exactly as configured; the ring hashes this text, not the resolved address.</param>
/// <param name="Port">The TCP port.</param>
/// <param name="Weight">A positive share of the ring relative to the other servers' weights.</param>
public readonly record struct KetamaServer(string Host, int Port, int Weight = 1)
{
    /// <summary>The server as <c>host:port</c> (<c>[v6]:port</c> for an IPv6 literal), without the weight.</summary>
    public string Address => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>
    /// Reads <c>host[:port[:weight]]</c> or <c>[v6][:port[:weight]]</c>, the form twemproxy's <c>servers:</c> list and
    /// pylibmc take.
    /// </summary>
    /// <param name="text">The server text.</param>
    /// <param name="defaultPort">The port when the text names none.</param>
    /// <exception cref="FormatException">The text is not a server; the message says which part is wrong.</exception>
    public static KetamaServer Parse(string text, int defaultPort = 11211)
    {
        ArgumentNullException.ThrowIfNull(text);
        string host;
        string[] rest;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
            {
                throw new FormatException($"'{text}' is not a server (expected [v6]:port[:weight])");
            }

            host = text[1..close];
            rest = close + 2 <= text.Length ? text[(close + 2)..].Split(':') : [];
        }
        else
        {
            var parts = text.Split(':');
            if (parts.Length > 3)
            {
                throw new FormatException($"'{text}' is not a server (expected host:port[:weight]; write an IPv6 host in brackets)");
            }

            host = parts[0];
            rest = parts[1..];
        }

        if (host.Length == 0)
        {
            throw new FormatException($"'{text}' names no host (expected host:port[:weight])");
        }

        var port = rest.Length > 0 ? ParseNumber(text, rest[0], "port", 65535) : defaultPort;
        var weight = rest.Length > 1 ? ParseNumber(text, rest[1], "weight", int.MaxValue) : 1;
        return rest.Length > 2
            ? throw new FormatException($"'{text}' is not a server (expected host:port[:weight])")
            : new KetamaServer(host, port, weight);
    }

    /// <summary>The server as <c>host:port:weight</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}:{Weight}");

    private static int ParseNumber(string text, string part, string what, int max) =>
        int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 1 && value <= max
            ? value
            : throw new FormatException($"'{text}' has a bad {what} '{part}' (a whole number from 1 to {max})");
}
