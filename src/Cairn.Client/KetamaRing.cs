using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cairn.Client;

/// <summary>
/// libmemcached's continuum (hosts.cc update_continuum, hash.cc dispatch_host), so keys land on the same servers
/// as libmemcached and pylibmc with the same server list, and, in <see cref="KetamaMode.KetamaWeighted"/>, as
/// twemproxy's <c>distribution: ketama</c> with <c>hash: md5</c> when its servers carry no names.
/// </summary>
public sealed class KetamaRing
{
    private const int PointsPerServer = 100;
    private const int PointsPerServerWeighted = 160;
    private const int DefaultMemcachedPort = 11211;

    private readonly uint[] _values;
    private readonly int[] _servers;
    private readonly int _serverCount;
    private readonly KetamaMode _mode;

    private KetamaRing(uint[] values, int[] servers, int serverCount, KetamaMode mode)
    {
        _values = values;
        _servers = servers;
        _serverCount = serverCount;
        _mode = mode;
    }

    /// <summary>Builds the ring for <paramref name="servers"/> in configured order (the order breaks ties).</summary>
    /// <param name="servers">The servers; weights count only in <see cref="KetamaMode.KetamaWeighted"/>.</param>
    /// <param name="mode">Which libmemcached placement to reproduce.</param>
    public static KetamaRing Create(IReadOnlyList<KetamaServer> servers, KetamaMode mode)
    {
        ArgumentNullException.ThrowIfNull(servers);
        var totalWeight = servers.Sum(s => (long)s.Weight);
        var points = new List<(uint Value, int Server)>();
        Span<byte> digest = stackalloc byte[16];
        for (var index = 0; index < servers.Count; index++)
        {
            var (host, port, weight) = servers[index];
            ArgumentOutOfRangeException.ThrowIfLessThan(weight, 1, nameof(servers));
            var names = mode == KetamaMode.KetamaWeighted
                ? WeightedPointCount(weight, totalWeight, servers.Count) / 4
                : PointsPerServer;
            for (var n = 0; n < names; n++)
            {
                // libmemcached leaves the port out for memcached's default port.
                var name = port == DefaultMemcachedPort
                    ? string.Create(CultureInfo.InvariantCulture, $"{host}-{n}")
                    : string.Create(CultureInfo.InvariantCulture, $"{host}:{port}-{n}");
                var bytes = Encoding.UTF8.GetBytes(name);
                if (mode == KetamaMode.KetamaWeighted)
                {
                    Md5(bytes, digest);
                    for (var alignment = 0; alignment < 4; alignment++)
                    {
                        points.Add((BinaryPrimitives.ReadUInt32LittleEndian(digest[(alignment * 4)..]), index));
                    }
                }
                else
                {
                    points.Add((OneAtATime(bytes), index));
                }
            }
        }

        // libmemcached's comparator breaks ties by server index, so equal points sort the same way here.
        points.Sort((a, b) => a.Value != b.Value ? a.Value.CompareTo(b.Value) : a.Server.CompareTo(b.Server));
        return new KetamaRing(
            points.Select(p => p.Value).ToArray(), points.Select(p => p.Server).ToArray(), servers.Count, mode);
    }

    /// <summary>Builds an equally weighted ring.</summary>
    /// <param name="servers">Host and port of each server, in configured order.</param>
    /// <param name="mode">Which libmemcached placement to reproduce.</param>
    public static KetamaRing Create(IReadOnlyList<(string Host, int Port)> servers, KetamaMode mode)
    {
        ArgumentNullException.ThrowIfNull(servers);
        return Create(servers.Select(s => new KetamaServer(s.Host, s.Port)).ToArray(), mode);
    }

    /// <summary>The index, in the configured list, of the server that holds <paramref name="key"/>.</summary>
    public int GetServer(ReadOnlySpan<byte> key)
    {
        // libmemcached skips hashing entirely with one server.
        if (_serverCount <= 1)
        {
            return 0;
        }

        var hash = KeyHash(key);
        var left = 0;
        var right = _values.Length;
        while (left < right)
        {
            var middle = left + ((right - left) / 2);
            if (_values[middle] < hash)
            {
                left = middle + 1;
            }
            else
            {
                right = middle;
            }
        }

        return _servers[right == _values.Length ? 0 : right];
    }

    /// <summary>
    /// A server's share of the 160 points per server, rounded down to whole groups of four, computed in single
    /// precision because libmemcached and twemproxy both do and a double could round a share differently.
    /// </summary>
    private static int WeightedPointCount(int weight, long totalWeight, int serverCount)
    {
        var share = (float)weight / totalWeight;
        var groups = share * PointsPerServerWeighted / 4 * serverCount;
        return (int)MathF.Floor((float)(groups + 0.0000000001)) * 4;
    }

    private uint KeyHash(ReadOnlySpan<byte> key)
    {
        if (_mode == KetamaMode.KetamaWeighted)
        {
            Span<byte> digest = stackalloc byte[16];
            Md5(key, digest);
            return BinaryPrimitives.ReadUInt32LittleEndian(digest);
        }

        return OneAtATime(key);
    }

    /// <summary>libhashkit's one-at-a-time hash, which reads the key through a signed <c>char</c>.</summary>
    internal static uint OneAtATime(ReadOnlySpan<byte> key)
    {
        uint value = 0;
        foreach (var b in key)
        {
            value += unchecked((uint)(sbyte)b);
            value += value << 10;
            value ^= value >> 6;
        }

        value += value << 3;
        value ^= value >> 11;
        value += value << 15;
        return value;
    }

    // MD5 is what ketama places keys with; it is not used for security here.
#pragma warning disable CA5351
    private static void Md5(ReadOnlySpan<byte> data, Span<byte> digest) => MD5.HashData(data, digest);
#pragma warning restore CA5351
}
