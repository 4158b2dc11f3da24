namespace Cairn.Storage;

public sealed class StoreOptions
{
    /// <summary>Larger than memcached's 64 MB because Cairn refuses writes rather than forgetting when full.</summary>
    public const long DefaultMemoryLimit = 1024L * 1024 * 1024;

    /// <summary>memcached's -I default.</summary>
    public const int DefaultMaxItemSize = 1024 * 1024;

    /// <summary>memcached's -f default.</summary>
    public const double DefaultGrowthFactor = 1.25;

    public long MemoryLimit { get; set => field = OptionValue.AtLeast(value, 0); } = DefaultMemoryLimit;

    /// <summary>memcached's -I: the largest item, key and value together with memcached's per-item overhead.</summary>
    public int MaxItemSize { get; set => field = OptionValue.Within(value, 1, 1024 * 1024 * 1024); } = DefaultMaxItemSize;

    /// <summary>--evict: drop least recently used items instead of refusing writes when memory is full.</summary>
    public bool EvictWhenFull { get; set; }

    /// <summary>
    /// When memory is full, keep the coldest values only on disk (the log) instead of refusing writes; their keys and
    /// metadata stay in the index. Needs a log to read them back from, so only a durable store turns it on; ignored with
    /// <see cref="EvictWhenFull"/>, which may drop data instead.
    /// </summary>
    public bool ValuesBeyondMemory { get; set; }

    /// <summary>memcached's -f: the ratio between successive slab chunk sizes.</summary>
    public double GrowthFactor { get; set => field = OptionValue.Above(value, 1.0); } = DefaultGrowthFactor;

    public TimeProvider Time { get; set; } = TimeProvider.System;
}
