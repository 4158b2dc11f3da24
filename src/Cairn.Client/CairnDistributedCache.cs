using System.Buffers.Binary;
using Microsoft.Extensions.Caching.Distributed;

namespace Cairn.Client;

/// <summary>
/// <see cref="IDistributedCache"/> over Cairn. Each entry carries a 16-byte header (absolute expiry and sliding
/// window, in Unix seconds and seconds) before the value; the item's TTL is the shorter of the two, and a read
/// of an entry with a sliding window touches it so the window restarts.
/// </summary>
public sealed class CairnDistributedCache : IDistributedCache
{
    private const int HeaderLength = 16;
    private readonly CairnClient _client;
    private readonly TimeProvider _time;

    /// <summary>Creates the cache over a client, reading the clock from <paramref name="time"/>.</summary>
    /// <param name="client">The client the cache stores through.</param>
    /// <param name="time">The clock for absolute expirations; <see cref="TimeProvider.System"/> when null.</param>
    public CairnDistributedCache(CairnClient client, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _time = time ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task<byte[]?> GetAsync(string key, CancellationToken token = default)
    {
        var item = await _client.GetAsync(key, token);
        if (item is null || item.Value.Length < HeaderLength)
        {
            return null;
        }

        await SlideAsync(key, item.Value, token);
        return item.Value[HeaderLength..].ToArray();
    }

    /// <inheritdoc />
    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) =>
        SetAsync(key, value, options).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(options);
        var now = _time.GetUtcNow();
        var absolute = options.AbsoluteExpiration ?? (now + options.AbsoluteExpirationRelativeToNow);
        if (absolute is { } at && at <= now)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "the absolute expiration is in the past");
        }

        var absoluteSeconds = absolute?.ToUnixTimeSeconds() ?? 0;
        var slidingSeconds = options.SlidingExpiration is { } sliding ? (long)Math.Ceiling(sliding.TotalSeconds) : 0;
        var payload = new byte[HeaderLength + value.Length];
        BinaryPrimitives.WriteInt64LittleEndian(payload, absoluteSeconds);
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8), slidingSeconds);
        value.CopyTo(payload, HeaderLength);
        var result = await _client.SetAsync(key, payload, Ttl(absoluteSeconds, slidingSeconds), 0, token);
        if (result != CairnStoreResult.Stored)
        {
            throw new CairnProtocolException($"set of '{key}' answered {result}");
        }
    }

    /// <inheritdoc />
    public void Refresh(string key) => RefreshAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public async Task RefreshAsync(string key, CancellationToken token = default)
    {
        var item = await _client.GetAsync(key, token);
        if (item is not null && item.Value.Length >= HeaderLength)
        {
            await SlideAsync(key, item.Value, token);
        }
    }

    /// <inheritdoc />
    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    /// <inheritdoc />
    public Task RemoveAsync(string key, CancellationToken token = default) => _client.DeleteAsync(key, token);

    private async Task SlideAsync(string key, ReadOnlyMemory<byte> stored, CancellationToken token)
    {
        var absoluteSeconds = BinaryPrimitives.ReadInt64LittleEndian(stored.Span);
        var slidingSeconds = BinaryPrimitives.ReadInt64LittleEndian(stored.Span[8..]);
        if (slidingSeconds > 0)
        {
            await _client.TouchAsync(key, Ttl(absoluteSeconds, slidingSeconds), token);
        }
    }

    /// <summary>The TTL left: the sliding window, cut short by the absolute expiry; null for no expiry.</summary>
    private TimeSpan? Ttl(long absoluteSeconds, long slidingSeconds)
    {
        TimeSpan? ttl = slidingSeconds > 0 ? TimeSpan.FromSeconds(slidingSeconds) : null;
        if (absoluteSeconds > 0)
        {
            var left = TimeSpan.FromSeconds(Math.Max(1, absoluteSeconds - _time.GetUtcNow().ToUnixTimeSeconds()));
            ttl = ttl is { } window && window < left ? window : left;
        }

        return ttl;
    }
}
