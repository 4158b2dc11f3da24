using System.Text;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Reshard;

/// <summary>
/// Lists a node's keys with <c>lru_crawler mgdump</c>, memcached 1.6's key listing: one CRLF line per key (base64
/// with <c>b</c> when a text line could not carry it), then <c>EN</c>. Chosen over <c>metadump</c> because its
/// lines end in CRLF and it carries only what the move needs; the item itself is read when it moves.
/// </summary>
internal static class KeyScanner
{
    private const int BusyRetries = 50;

    public static async Task<List<byte[]>> ListKeysAsync(ServerConnection connection, ServerAddress node, CancellationToken cancellation)
    {
        for (var attempt = 0; ; attempt++)
        {
            await connection.SendAsync("lru_crawler mgdump all\r\n");
            var keys = new List<byte[]>();
            while (true)
            {
                var line = await connection.ReadLineAsync();
                if (line == "EN")
                {
                    return keys;
                }

                // memcached runs one crawl at a time and says so; another tool's crawl ends soon.
                if (line.StartsWith("BUSY", StringComparison.Ordinal) && attempt < BusyRetries)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), cancellation);
                    break;
                }

                keys.Add(ParseLine(line, node));
            }
        }
    }

    private static byte[] ParseLine(string line, ServerAddress node)
    {
        var parts = line.Split(' ');
        switch (parts)
        {
            case ["mg", var key]:
                return Encoding.UTF8.GetBytes(key);
            case ["mg", var encoded, "b"]:
                try
                {
                    return Convert.FromBase64String(encoded);
                }
                catch (FormatException)
                {
                    break;
                }
        }

        throw new ServerReplyException($"{node} listed its keys with a line cairn does not understand: {line}");
    }
}
