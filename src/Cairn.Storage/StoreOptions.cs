namespace Cairn.Storage;

public sealed class StoreOptions
{
    /// <summary>Larger than memcached's 64 MB because Cairn refuses writes rather than forgetting when full.</summary>
    public const long DefaultMemoryLimit = 1024L * 1024 * 1024;

    public long MemoryLimit { get; set; } = DefaultMemoryLimit;

    /// <summary>memcached's -I: the largest item, key and value together with memcached's per-item overhead.</summary>
    public int MaxItemSize { get; set; } = 1024 * 1024;

    /// <summary>--evict: drop least recently used items instead of refusing writes when memory is full.</summary>
    public bool EvictWhenFull { get; set; }

    /// <summary>memcached's -f: the ratio between successive slab chunk sizes.</summary>
    public double GrowthFactor { get; set; } = 1.25;

    public TimeProvider Time { get; set; } = TimeProvider.System;
}
