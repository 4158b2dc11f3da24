using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Reshard;

/// <summary>A value as read from its owner: what a copy must carry, and the CAS that proves it unchanged later.</summary>
internal sealed record CopiedItem(byte[] Value, uint Flags, long RemainingTtl, ulong Cas);

internal enum MetaOutcome
{
    Done,
    NotStored,
    Exists,
    NotFound,
}

/// <summary>
/// Batches of meta commands on one connection: each batch is one write and its replies are read in order. A key
/// the binary protocol stored with spaces or control bytes travels base64-encoded (the <c>b</c> flag).
/// </summary>
internal sealed class MetaPipe(ServerConnection connection)
{
    private readonly ArrayBufferWriter<byte> _request = new(64 * 1024);

    /// <summary>Each key's value, flags, remaining TTL (-1: none) and CAS, or null where the key is gone.</summary>
    public async Task<CopiedItem?[]> GetAsync(IReadOnlyList<byte[]> keys)
    {
        _request.ResetWrittenCount();
        foreach (var key in keys)
        {
            Append("mg ");
            AppendKey(key);
            Append(" v f t c\r\n");
        }

        await connection.SendAsync(_request.WrittenMemory);
        var items = new CopiedItem?[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            var line = await connection.ReadLineAsync();
            if (line == "EN")
            {
                continue;
            }

            var tokens = line.Split(' ');
            if (tokens.Length < 2 || tokens[0] != "VA" || !int.TryParse(tokens[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size))
            {
                throw new ServerReplyException(line);
            }

            uint flags = 0;
            long ttl = -1;
            ulong cas = 0;
            foreach (var token in tokens.AsSpan(2))
            {
                var parsed = token.Length > 1 && token[0] switch
                {
                    'f' => uint.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out flags),
                    't' => long.TryParse(token.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ttl),
                    'c' => ulong.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out cas),
                    _ => true,
                };
                if (!parsed)
                {
                    throw new ServerReplyException(line);
                }
            }

            items[i] = new CopiedItem(await connection.ReadBlockAsync(size), flags, ttl, cas);
        }

        return items;
    }

    /// <summary>
    /// Stores each item: as an add when <c>CompareCas</c> is null (an existing key wins), otherwise as a set that
    /// only replaces the version with that CAS. Returns each outcome and, when stored, the new CAS.
    /// </summary>
    public async Task<(MetaOutcome Outcome, ulong Cas)[]> StoreAsync(IReadOnlyList<(byte[] Key, CopiedItem Item, ulong? CompareCas)> stores)
    {
        _request.ResetWrittenCount();
        foreach (var (key, item, compareCas) in stores)
        {
            Append("ms ");
            AppendKey(key);

            // A remaining TTL of 0 means "expires within the second"; T0 would mean "never", so it becomes T1.
            var ttl = item.RemainingTtl < 0 ? 0 : Math.Max(1, item.RemainingTtl);
            Append(string.Create(CultureInfo.InvariantCulture, $" {item.Value.Length} F{item.Flags} T{ttl} c"));
            Append(compareCas is { } cas ? string.Create(CultureInfo.InvariantCulture, $" C{cas}") : " ME");
            Append("\r\n");
            _request.Write(item.Value);
            Append("\r\n");
        }

        await connection.SendAsync(_request.WrittenMemory);
        var outcomes = new (MetaOutcome, ulong)[stores.Count];
        for (var i = 0; i < stores.Count; i++)
        {
            var line = await connection.ReadLineAsync();
            outcomes[i] = line.StartsWith("HD", StringComparison.Ordinal)
                ? (MetaOutcome.Done, ReturnedCas(line))
                : (Outcome(line), 0);
        }

        return outcomes;
    }

    /// <summary>Deletes each key only while it still holds the version with the given CAS.</summary>
    public async Task<MetaOutcome[]> DeleteAsync(IReadOnlyList<(byte[] Key, ulong Cas)> deletes)
    {
        _request.ResetWrittenCount();
        foreach (var (key, cas) in deletes)
        {
            Append("md ");
            AppendKey(key);
            Append(string.Create(CultureInfo.InvariantCulture, $" C{cas}\r\n"));
        }

        await connection.SendAsync(_request.WrittenMemory);
        var outcomes = new MetaOutcome[deletes.Count];
        for (var i = 0; i < deletes.Count; i++)
        {
            outcomes[i] = Outcome(await connection.ReadLineAsync());
        }

        return outcomes;
    }

    // A failed store may still carry the flags it was asked to return (NS c0): the status is the first token.
    private static MetaOutcome Outcome(string line) => (line.IndexOf(' ', StringComparison.Ordinal) is var space and >= 0 ? line[..space] : line) switch
    {
        "HD" => MetaOutcome.Done,
        "NS" => MetaOutcome.NotStored,
        "EX" => MetaOutcome.Exists,
        "NF" => MetaOutcome.NotFound,
        _ => throw new ServerReplyException(line),
    };

    private static ulong ReturnedCas(string line)
    {
        foreach (var token in line.Split(' ').Skip(1))
        {
            if (token.StartsWith('c') && ulong.TryParse(token.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var cas))
            {
                return cas;
            }
        }

        throw new ServerReplyException(line);
    }

    private void Append(string text)
    {
        var span = _request.GetSpan(Encoding.ASCII.GetMaxByteCount(text.Length));
        _request.Advance(Encoding.ASCII.GetBytes(text, span));
    }

    /// <summary>The key as text when a text line can carry it, else base64 followed by the <c>b</c> flag.</summary>
    private void AppendKey(byte[] key)
    {
        if (key.AsSpan().IndexOfAnyExceptInRange((byte)'!', (byte)'~') < 0)
        {
            _request.Write(key);
            return;
        }

        var span = _request.GetSpan(Base64.GetMaxEncodedToUtf8Length(key.Length) + 2);
        Base64.EncodeToUtf8(key, span, out _, out var written);
        " b"u8.CopyTo(span[written..]);
        _request.Advance(written + 2);
    }
}
