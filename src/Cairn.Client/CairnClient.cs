using System.Globalization;
using System.Text;
using Cairn.Client.Internal;

namespace Cairn.Client;

/// <summary>
/// An async client for Cairn and memcached speaking the meta protocol. Thread-safe: concurrent callers share
/// a few pipelined connections per server; keys are placed on servers with libmemcached-compatible ketama.
/// </summary>
public sealed class CairnClient : IAsyncDisposable
{
    // memcached reads TTLs above 30 days as absolute Unix times.
    private const long MaxRelativeTtlSeconds = 60 * 60 * 24 * 30;
    private const int MaxKeyLength = 250;

    /// <summary>What a Cairn replica answers to a write; the server's words, so a refusal is recognised exactly.</summary>
    private const string ReadOnlyReplica = "SERVER_ERROR replica is read-only";
    private readonly ServerNode[] _nodes;
    private readonly bool _followPrimary;
    private ServerNode? _primary;
    private readonly KetamaRing _ring;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    /// <summary>Creates a client; connections are opened on first use.</summary>
    /// <param name="options">Servers, pool size and timeouts.</param>
    public CairnClient(CairnClientOptions options)
        : this(options, TimeProvider.System)
    {
    }

    /// <summary>Creates a client that reads the clock (for TTLs beyond 30 days) from <paramref name="time"/>.</summary>
    /// <param name="options">Servers, pool size and timeouts.</param>
    /// <param name="time">The clock.</param>
    public CairnClient(CairnClientOptions options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        if (options.Servers.Count == 0)
        {
            throw new ArgumentException("at least one server is needed", nameof(options));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.ConnectionsPerServer, 1, nameof(options));
        var servers = options.Servers.Select(ParseServer).ToArray();
        _nodes = servers
            .Select(s => new ServerNode(s.Host, s.Port, options.ConnectionsPerServer, options.ConnectTimeout))
            .ToArray();
        _ring = KetamaRing.Create(servers, options.Ketama);
        _timeout = options.OperationTimeout;
        _time = time;
        _followPrimary = options.FollowPrimary;
    }

    /// <summary>The servers, as <c>host:port</c>, in configured order.</summary>
    public IReadOnlyList<string> Servers => _nodes.Select(n => n.Name).ToArray();

    internal int OpenConnections => _nodes.Sum(n => n.OpenConnections);

    /// <summary>The server (<c>host:port</c>) that holds <paramref name="key"/>.</summary>
    public string GetServerForKey(string key) => _nodes[_ring.GetServer(Encoding.UTF8.GetBytes(key))].Name;

    /// <summary>Reads an item: its value, flags and CAS token, or null on a miss.</summary>
    public Task<CairnItem?> GetAsync(string key, CancellationToken cancellationToken = default) =>
        GetCoreAsync(key, null, cancellationToken);

    /// <summary>Reads an item and sets its TTL in the same round trip (<c>mg v T</c>), or null on a miss.</summary>
    public Task<CairnItem?> GetAndTouchAsync(string key, TimeSpan? ttl, CancellationToken cancellationToken = default) =>
        GetCoreAsync(key, ttl ?? TimeSpan.Zero, cancellationToken);

    /// <summary>Reads a value as UTF-8, or null on a miss.</summary>
    public async Task<string?> GetStringAsync(string key, CancellationToken cancellationToken = default) =>
        (await GetAsync(key, cancellationToken))?.ValueAsString();

    /// <summary>Reads many keys, pipelined per server; missing keys are absent from the result.</summary>
    public async Task<IReadOnlyDictionary<string, CairnItem>> GetManyAsync(IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var distinct = keys.Distinct(StringComparer.Ordinal).ToArray();

        // Every request is queued before any is awaited, so each connection sends them in one batch.
        var pending = new List<(string Key, Task<Reply> Reply)>(distinct.Length);
        foreach (var key in distinct)
        {
            pending.Add((key, SendAsync(key, Command("mg", key, null, " v f c"), ReplyShape.Meta, cancellationToken)));
        }

        var result = new Dictionary<string, CairnItem>(StringComparer.Ordinal);
        foreach (var (key, task) in pending)
        {
            if (ToItem(await task) is { } item)
            {
                result[key] = item;
            }
        }

        return result;
    }

    /// <summary>Stores a value unconditionally (<c>ms</c> mode S).</summary>
    public Task<CairnStoreResult> SetAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, null, ttl, flags, null, cancellationToken);

    /// <summary>Stores a UTF-8 string unconditionally (<c>ms</c> mode S).</summary>
    public Task<CairnStoreResult> SetAsync(string key, string value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        SetAsync(key, Utf8(value), ttl, flags, cancellationToken);

    /// <summary>Stores a value only if the key is missing (<c>ms</c> mode E).</summary>
    public Task<CairnStoreResult> AddAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, 'E', ttl, flags, null, cancellationToken);

    /// <summary>Stores a UTF-8 string only if the key is missing (<c>ms</c> mode E).</summary>
    public Task<CairnStoreResult> AddAsync(string key, string value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        AddAsync(key, Utf8(value), ttl, flags, cancellationToken);

    /// <summary>Stores a value only if the key exists (<c>ms</c> mode R).</summary>
    public Task<CairnStoreResult> ReplaceAsync(string key, ReadOnlyMemory<byte> value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, 'R', ttl, flags, null, cancellationToken);

    /// <summary>Stores a UTF-8 string only if the key exists (<c>ms</c> mode R).</summary>
    public Task<CairnStoreResult> ReplaceAsync(string key, string value, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        ReplaceAsync(key, Utf8(value), ttl, flags, cancellationToken);

    /// <summary>Appends to an existing value, keeping its flags and TTL (<c>ms</c> mode A).</summary>
    public Task<CairnStoreResult> AppendAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, 'A', null, 0, null, cancellationToken);

    /// <summary>Appends a UTF-8 string to an existing value (<c>ms</c> mode A).</summary>
    public Task<CairnStoreResult> AppendAsync(string key, string value, CancellationToken cancellationToken = default) =>
        AppendAsync(key, Utf8(value), cancellationToken);

    /// <summary>Prepends to an existing value, keeping its flags and TTL (<c>ms</c> mode P).</summary>
    public Task<CairnStoreResult> PrependAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, 'P', null, 0, null, cancellationToken);

    /// <summary>Prepends a UTF-8 string to an existing value (<c>ms</c> mode P).</summary>
    public Task<CairnStoreResult> PrependAsync(string key, string value, CancellationToken cancellationToken = default) =>
        PrependAsync(key, Utf8(value), cancellationToken);

    /// <summary>Stores a value only if the item's CAS token is still <paramref name="cas"/> (<c>ms</c> with <c>C</c>).</summary>
    public Task<CairnStoreResult> CasAsync(string key, ReadOnlyMemory<byte> value, ulong cas, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        StoreAsync(key, value, null, ttl, flags, cas, cancellationToken);

    /// <summary>Stores a UTF-8 string only if the item's CAS token is still <paramref name="cas"/>.</summary>
    public Task<CairnStoreResult> CasAsync(string key, string value, ulong cas, TimeSpan? ttl = null, uint flags = 0, CancellationToken cancellationToken = default) =>
        CasAsync(key, Utf8(value), cas, ttl, flags, cancellationToken);

    /// <summary>Deletes a key (<c>md</c>); false when it did not exist.</summary>
    public async Task<bool> DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(key, Command("md", key, null, string.Empty), ReplyShape.Meta, cancellationToken);
        return reply.Code switch
        {
            "HD" => true,
            "NF" => false,
            _ => throw Unexpected(reply),
        };
    }

    /// <summary>Sets a key's TTL without reading it (<c>mg T</c>); false when it does not exist.</summary>
    public async Task<bool> TouchAsync(string key, TimeSpan? ttl, CancellationToken cancellationToken = default)
    {
        var reply = await SendAsync(key, Command("mg", key, null, " T" + Ttl(ttl)), ReplyShape.Meta, cancellationToken);
        return reply.Code switch
        {
            "HD" => true,
            "EN" => false,
            _ => throw Unexpected(reply),
        };
    }

    /// <summary>
    /// Adds <paramref name="delta"/> to a decimal value (<c>ma</c>) and returns the new value, or null when the key
    /// is missing. With <paramref name="initialValue"/>, a missing key is created with it (<c>N</c>, <c>J</c>).
    /// </summary>
    public Task<ulong?> IncrementAsync(string key, ulong delta = 1, ulong? initialValue = null, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        ArithmeticAsync(key, delta, false, initialValue, ttl, cancellationToken);

    /// <summary>
    /// Subtracts <paramref name="delta"/> from a decimal value, stopping at 0 (<c>ma MD</c>), and returns the new value,
    /// or null when the key is missing. With <paramref name="initialValue"/>, a missing key is created with it.
    /// </summary>
    public Task<ulong?> DecrementAsync(string key, ulong delta = 1, ulong? initialValue = null, TimeSpan? ttl = null, CancellationToken cancellationToken = default) =>
        ArithmeticAsync(key, delta, true, initialValue, ttl, cancellationToken);

    /// <summary>Invalidates every item on every server (<c>flush_all</c>); with <see cref="CairnClientOptions.FollowPrimary"/>, on the primary, whose replicas follow it.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var payload = "flush_all\r\n"u8.ToArray();
        var replies = _followPrimary
            ? [SendToPrimaryAsync(payload, ReplyShape.Line, cancellationToken)]
            : _nodes.Select(n => SendToNodeAsync(n, payload, ReplyShape.Line, cancellationToken)).ToArray();
        foreach (var reply in await Task.WhenAll(replies))
        {
            if (reply.Code != "OK")
            {
                throw Unexpected(reply);
            }
        }
    }

    /// <summary>Each server's <c>stats</c>, keyed by <c>host:port</c>.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>> StatsAsync(CancellationToken cancellationToken = default)
    {
        var payload = "stats\r\n"u8.ToArray();
        var replies = await Task.WhenAll(_nodes.Select(n => SendToNodeAsync(n, payload, ReplyShape.UntilEnd, cancellationToken)));
        var result = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
        for (var i = 0; i < _nodes.Length; i++)
        {
            if (replies[i].Lines is not { } lines)
            {
                throw Unexpected(replies[i]);
            }

            var stats = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in lines)
            {
                var parts = line.Split(' ', 3);
                if (parts.Length == 3 && parts[0] == "STAT")
                {
                    stats[parts[1]] = parts[2];
                }
            }

            result[_nodes[i].Name] = stats;
        }

        return result;
    }

    /// <summary>Closes every connection; calls in flight fail.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task<CairnItem?> GetCoreAsync(string key, TimeSpan? touch, CancellationToken cancellationToken)
    {
        var flags = touch is null ? " v f c" : " v f c T" + Ttl(touch);
        return ToItem(await SendAsync(key, Command("mg", key, null, flags), ReplyShape.Meta, cancellationToken));
    }

    private async Task<CairnStoreResult> StoreAsync(string key, ReadOnlyMemory<byte> value, char? mode, TimeSpan? ttl, uint flags, ulong? cas, CancellationToken cancellationToken)
    {
        var tokens = new StringBuilder();
        tokens.Append(' ').Append(value.Length.ToString(CultureInfo.InvariantCulture));
        if (mode is not ('A' or 'P'))
        {
            // Append and prepend keep the item's TTL and flags, so they send neither.
            tokens.Append(" T").Append(Ttl(ttl)).Append(" F").Append(flags.ToString(CultureInfo.InvariantCulture));
        }

        if (cas is { } token)
        {
            tokens.Append(" C").Append(token.ToString(CultureInfo.InvariantCulture));
        }

        if (mode is { } m)
        {
            tokens.Append(" M").Append(m);
        }

        var reply = await SendAsync(key, Command("ms", key, value, tokens.ToString()), ReplyShape.Meta, cancellationToken);
        return reply.Code switch
        {
            "HD" => CairnStoreResult.Stored,
            "NS" => CairnStoreResult.NotStored,
            "EX" => CairnStoreResult.Exists,
            "NF" => CairnStoreResult.NotFound,
            _ => throw Unexpected(reply),
        };
    }

    private async Task<ulong?> ArithmeticAsync(string key, ulong delta, bool decrement, ulong? initialValue, TimeSpan? ttl, CancellationToken cancellationToken)
    {
        var tokens = new StringBuilder(" v D").Append(delta.ToString(CultureInfo.InvariantCulture));
        if (initialValue is { } initial)
        {
            tokens.Append(" N").Append(Ttl(ttl)).Append(" J").Append(initial.ToString(CultureInfo.InvariantCulture));
        }

        if (decrement)
        {
            tokens.Append(" MD");
        }

        var reply = await SendAsync(key, Command("ma", key, null, tokens.ToString()), ReplyShape.Meta, cancellationToken);
        switch (reply.Code)
        {
            case "VA" when reply.Data is { } data && ulong.TryParse(data, NumberStyles.None, CultureInfo.InvariantCulture, out var number):
                return number;
            case "NF":
            case "NS":
                return null;
            default:
                throw Unexpected(reply);
        }
    }

    private Task<Reply> SendAsync(string key, byte[] payload, ReplyShape shape, CancellationToken cancellationToken) =>
        _followPrimary
            ? SendToPrimaryAsync(payload, shape, cancellationToken)
            : SendToNodeAsync(_nodes[_ring.GetServer(Encoding.UTF8.GetBytes(key))], payload, shape, cancellationToken);

    private async Task<Reply> SendToPrimaryAsync(byte[] payload, ReplyShape shape, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            var primary = Volatile.Read(ref _primary) ?? await FindPrimaryAsync(cancellationToken);
            try
            {
                return await SendToNodeAsync(primary, payload, shape, cancellationToken);
            }
            catch (CairnProtocolException refused) when (refused.Message.EndsWith(ReadOnlyReplica, StringComparison.Ordinal))
            {
                // A former primary: it applied nothing, so asking the new one is safe.
                Interlocked.CompareExchange(ref _primary, null, primary);
                if (attempt > 0)
                {
                    throw;
                }
            }
            catch (System.Net.Sockets.SocketException) when (attempt == 0)
            {
                // Could not connect, so nothing was sent.
                Interlocked.CompareExchange(ref _primary, null, primary);
            }
            catch (IOException)
            {
                // Sent, perhaps applied: not retried, but the next request looks for the primary again.
                Interlocked.CompareExchange(ref _primary, null, primary);
                throw;
            }
        }
    }

    /// <summary>Asks every server its role; the first that says primary is used until it stops being one.</summary>
    private async Task<ServerNode> FindPrimaryAsync(CancellationToken cancellationToken)
    {
        var payload = "stats replication\r\n"u8.ToArray();
        foreach (var node in _nodes)
        {
            try
            {
                var reply = await SendToNodeAsync(node, payload, ReplyShape.UntilEnd, cancellationToken);
                if (reply.Lines?.Contains("STAT role primary") == true)
                {
                    Volatile.Write(ref _primary, node);
                    return node;
                }
            }
            catch (Exception unreachable) when (unreachable is System.Net.Sockets.SocketException or IOException or TimeoutException or CairnProtocolException)
            {
            }
        }

        throw new CairnProtocolException($"none of {string.Join(", ", _nodes.Select(n => n.Name))} says it is the primary");
    }

    private async Task<Reply> SendToNodeAsync(ServerNode node, byte[] payload, ReplyShape shape, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            var connection = await node.GetConnectionAsync(deadline.Token);

            // A caller that gives up leaves its request queued: the reply still arrives in order and is dropped.
            var reply = await connection.SendAsync(new PendingRequest(payload, shape)).WaitAsync(deadline.Token);
            if (reply.IsError)
            {
                throw new CairnProtocolException($"{node.Name} answered: {reply.Line}");
            }

            return reply;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{node.Name} did not answer within {_timeout.TotalMilliseconds:0} ms");
        }
    }

    private static CairnItem? ToItem(Reply reply)
    {
        switch (reply.Code)
        {
            case "EN":
                return null;
            case "VA":
                var flags = reply.Flag('f') is { } f ? uint.Parse(f, CultureInfo.InvariantCulture) : 0;
                var cas = reply.Flag('c') is { } c ? ulong.Parse(c, CultureInfo.InvariantCulture) : 0;
                return new CairnItem(reply.Data ?? [], flags, cas);
            default:
                throw Unexpected(reply);
        }
    }

    /// <summary>Encodes <c>verb key tokens\r\n[data\r\n]</c>; keys memcached cannot carry as text go base64 (<c>b</c>).</summary>
    private static byte[] Command(string verb, string key, ReadOnlyMemory<byte>? data, string tokens)
    {
        ArgumentNullException.ThrowIfNull(key);
        var keyBytes = Encoding.UTF8.GetBytes(key);
        if (keyBytes.Length == 0 || keyBytes.Length > MaxKeyLength)
        {
            throw new ArgumentException($"a key is 1 to {MaxKeyLength} bytes", nameof(key));
        }

        var keyText = key;
        if (keyBytes.Any(b => b <= (byte)' ' || b == 0x7f))
        {
            keyText = Convert.ToBase64String(keyBytes);
            tokens += " b";
        }

        var head = Encoding.UTF8.GetBytes($"{verb} {keyText}{tokens}\r\n");
        if (data is not { } value)
        {
            return head;
        }

        var payload = new byte[head.Length + value.Length + 2];
        head.CopyTo(payload, 0);
        value.Span.CopyTo(payload.AsSpan(head.Length));
        payload[^2] = (byte)'\r';
        payload[^1] = (byte)'\n';
        return payload;
    }

    private string Ttl(TimeSpan? ttl)
    {
        if (ttl is not { } span || span <= TimeSpan.Zero)
        {
            return "0";
        }

        var seconds = (long)Math.Ceiling(span.TotalSeconds);
        if (seconds > MaxRelativeTtlSeconds)
        {
            seconds = _time.GetUtcNow().ToUnixTimeSeconds() + seconds;
        }

        return seconds.ToString(CultureInfo.InvariantCulture);
    }

    private static ReadOnlyMemory<byte> Utf8(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return Encoding.UTF8.GetBytes(value);
    }

    private static CairnProtocolException Unexpected(Reply reply) => new("unexpected reply: " + reply.Line);

    private static KetamaServer ParseServer(string server)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(server);
        try
        {
            return KetamaServer.Parse(server);
        }
        catch (FormatException error)
        {
            throw new ArgumentException(error.Message, nameof(server), error);
        }
    }
}
