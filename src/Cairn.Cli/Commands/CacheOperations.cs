using System.Globalization;
using System.Text;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Commands;

/// <summary>The friendly commands, shared by the one-shot form and the interactive shell.</summary>
internal sealed class CacheOperations(ServerConnection connection)
{
    public static void ValidateKey(string key)
    {
        // A space or control character would end the key early and turn the rest into another command.
        var length = Encoding.UTF8.GetByteCount(key);
        if (length is 0 or > 250 || key.Any(c => c <= ' ' || c == '\x7f'))
        {
            throw new UsageException($"invalid key '{key}' (1 to 250 bytes, no spaces or control characters)");
        }
    }

    /// <summary>The value, or null when the key is not there.</summary>
    public async Task<byte[]?> GetAsync(string key)
    {
        ValidateKey(key);
        await connection.SendAsync($"get {key}\r\n");
        var line = await connection.ReadLineAsync();
        if (line == "END")
        {
            return null;
        }

        var parts = line.Split(' ');
        if (parts is not ["VALUE", _, _, var size] || !int.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            throw new ServerReplyException(line);
        }

        var value = await connection.ReadBlockAsync(length);
        var end = await connection.ReadLineAsync();
        return end == "END" ? value : throw new ServerReplyException(end);
    }

    /// <summary>True when stored, false on NOT_STORED.</summary>
    public async Task<bool> SetAsync(string key, byte[] value, uint flags, long ttl)
    {
        ValidateKey(key);
        var header = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"set {key} {flags} {ttl} {value.Length}\r\n"));
        var request = new byte[header.Length + value.Length + 2];
        header.CopyTo(request, 0);
        value.CopyTo(request, header.Length);
        "\r\n"u8.CopyTo(request.AsSpan(header.Length + value.Length));
        await connection.SendAsync(request);
        return await connection.ReadLineAsync() switch
        {
            "STORED" => true,
            "NOT_STORED" => false,
            var other => throw new ServerReplyException(other),
        };
    }

    /// <summary>True when deleted, false on NOT_FOUND.</summary>
    public async Task<bool> DeleteAsync(string key)
    {
        ValidateKey(key);
        await connection.SendAsync($"delete {key}\r\n");
        return await connection.ReadLineAsync() switch
        {
            "DELETED" => true,
            "NOT_FOUND" => false,
            var other => throw new ServerReplyException(other),
        };
    }

    /// <summary>The new value, or null on NOT_FOUND.</summary>
    public async Task<string?> IncrementAsync(string key, ulong delta)
    {
        ValidateKey(key);
        await connection.SendAsync(string.Create(CultureInfo.InvariantCulture, $"incr {key} {delta}\r\n"));
        var line = await connection.ReadLineAsync();
        return line == "NOT_FOUND" ? null
            : ulong.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? line
            : throw new ServerReplyException(line);
    }

    public async Task<IReadOnlyList<(string Name, string Value)>> StatsAsync(string? group)
    {
        if (group is not null && group.Any(c => c <= ' '))
        {
            throw new UsageException($"invalid stats group '{group}'");
        }

        await connection.SendAsync(group is null ? "stats\r\n" : $"stats {group}\r\n");
        var stats = new List<(string, string)>();
        while (true)
        {
            var line = await connection.ReadLineAsync();
            if (line is "END" or "RESET" or "OK")
            {
                return stats;
            }

            if (!line.StartsWith("STAT ", StringComparison.Ordinal) && !line.StartsWith("ITEM ", StringComparison.Ordinal))
            {
                throw new ServerReplyException(line);
            }

            var rest = line[5..];
            var space = rest.IndexOf(' ', StringComparison.Ordinal);
            stats.Add(space < 0 ? (rest, "") : (rest[..space], rest[(space + 1)..]));
        }
    }

    public async Task CompactAsync()
    {
        await connection.SendAsync("compact\r\n");
        var line = await connection.ReadLineAsync();
        if (line != "OK")
        {
            throw new ServerReplyException(line);
        }
    }
}
