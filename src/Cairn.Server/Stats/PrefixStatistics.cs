using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Cairn.Server.Stats;

/// <summary>
/// memcached's "stats detail": with detail on, gets, hits, sets and deletes are counted per key prefix (the key up to
/// the first delimiter, ':' unless -D says otherwise; keys without it are not counted), at most 65,536 prefixes.
/// Off by default; while off, a request pays one volatile read.
/// </summary>
public sealed class PrefixStatistics(char delimiter = ':')
{
    private const int MaxPrefixes = 1 << 16;

    private readonly ConcurrentDictionary<string, Counts> _prefixes = new(StringComparer.Ordinal);
    private volatile bool _enabled;

    public bool Enabled
    {
        get => _enabled;
        set => _enabled = value;
    }

    public void RecordGet(ReadOnlySpan<byte> key, bool hit)
    {
        if (_enabled && Find(key) is { } counts)
        {
            Interlocked.Increment(ref counts.Gets);
            if (hit)
            {
                Interlocked.Increment(ref counts.Hits);
            }
        }
    }

    public void RecordSet(ReadOnlySpan<byte> key)
    {
        if (_enabled && Find(key) is { } counts)
        {
            Interlocked.Increment(ref counts.Sets);
        }
    }

    public void RecordDelete(ReadOnlySpan<byte> key)
    {
        if (_enabled && Find(key) is { } counts)
        {
            Interlocked.Increment(ref counts.Deletes);
        }
    }

    /// <summary>memcached's dump: one "PREFIX p get g hit h set s del d" line per prefix, then END.</summary>
    public string Dump()
    {
        var text = new StringBuilder();
        foreach (var (prefix, counts) in _prefixes.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"PREFIX {prefix} get {Volatile.Read(ref counts.Gets)} hit {Volatile.Read(ref counts.Hits)} set {Volatile.Read(ref counts.Sets)} del {Volatile.Read(ref counts.Deletes)}\r\n");
        }

        return text.Append("END\r\n").ToString();
    }

    private Counts? Find(ReadOnlySpan<byte> key)
    {
        int end = key.IndexOf((byte)delimiter);
        if (end < 0)
        {
            return null;
        }

        // Keys are bytes; Latin-1 maps each to one char, so a prefix round-trips exactly. Only a new prefix allocates.
        Span<char> prefix = stackalloc char[end];
        Encoding.Latin1.GetChars(key[..end], prefix);
        var lookup = _prefixes.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(prefix, out var counts))
        {
            return counts;
        }

        return _prefixes.Count >= MaxPrefixes ? null : _prefixes.GetOrAdd(new string(prefix), static _ => new Counts());
    }

    private sealed class Counts
    {
        public long Gets;
        public long Hits;
        public long Sets;
        public long Deletes;
    }
}
