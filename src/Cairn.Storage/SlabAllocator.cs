using System.Runtime.InteropServices;

namespace Cairn.Storage;

/// <summary>
/// memcached's slab allocator: 1 MiB native pages (from <see cref="SlabPageSource"/>), each carved into equal chunks of one size class.
/// Classes grow by the growth factor from <see cref="SmallestChunk"/> up to half a page; bigger items
/// get their own native allocation. Pages and large allocations together are held under the limit.
/// Freed chunks go on a per-class free list threaded through the chunks themselves.
/// Lock order: a shard lock may be held when calling in; no shard lock is ever taken from here.
/// </summary>
internal sealed unsafe class SlabAllocator : IDisposable
{
    public const int PageSize = 1024 * 1024;

    /// <summary>Chunks hold only key and value (metadata lives in the index), so they start smaller than memcached's 96.</summary>
    public const int SmallestChunk = 48;

    public const int ChunkAlignment = 8;

    /// <summary>memcached's MAX_NUMBER_OF_SLAB_CLASSES less one; the index stores the class in a byte.</summary>
    public const int MaxSlabClasses = 63;

    public const int LargestChunk = PageSize / 2;

    private readonly SlabClass[] _classes;
    private readonly SlabPageSource _pages = new();
    private long _allocatedBytes;
    private long _limit;
    private bool _disposed;

    public SlabAllocator(double growthFactor, long limit)
    {
        if (!(growthFactor > 1.0) || double.IsInfinity(growthFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(growthFactor), growthFactor, "The slab growth factor must be greater than 1.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        _limit = limit;

        var sizes = new List<int>();
        long size = SmallestChunk;
        while (sizes.Count < MaxSlabClasses - 1 && size < LargestChunk)
        {
            sizes.Add((int)size);
            long next = (long)(size * growthFactor);
            next = (next + ChunkAlignment - 1) & ~(long)(ChunkAlignment - 1);
            // Rounding can stall a factor close to 1; memcached's classes always grow.
            size = Math.Max(next, size + ChunkAlignment);
        }

        // As in memcached, the last class is exactly the largest chunk whatever the factor left over.
        sizes.Add(LargestChunk);

        _classes = new SlabClass[sizes.Count];
        for (int i = 0; i < _classes.Length; i++)
        {
            _classes[i] = new SlabClass(sizes[i]);
        }
    }

    public int ClassCount => _classes.Length;

    /// <summary>The pseudo class of items with their own allocation; indexes LRU and count arrays.</summary>
    public int LargeClass => _classes.Length;

    public long AllocatedBytes => Volatile.Read(ref _allocatedBytes);

    public long Limit
    {
        get => Volatile.Read(ref _limit);
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            Volatile.Write(ref _limit, value);
        }
    }

    public int ChunkSize(int slabClass) => _classes[slabClass].ChunkSize;

    /// <summary>The smallest class whose chunk holds <paramref name="size"/> bytes, or <see cref="LargeClass"/>.</summary>
    public int ClassFor(int size)
    {
        if (size > LargestChunk)
        {
            return LargeClass;
        }

        int low = 0;
        int high = _classes.Length - 1;
        while (low < high)
        {
            int mid = (low + high) >>> 1;
            if (_classes[mid].ChunkSize < size)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    /// <summary>A chunk from the free list, the current page, or a new page within the limit; 0 when none.</summary>
    public nint TryAllocate(int slabClass)
    {
        SlabClass c = _classes[slabClass];
        lock (c.Gate)
        {
            if (_disposed)
            {
                return 0;
            }

            nint chunk = c.FreeHead;
            if (chunk != 0)
            {
                c.FreeHead = *(nint*)chunk;
                c.FreeCount--;
                c.UsedChunks++;
                return chunk;
            }

            if (c.CarveLeft == 0 && !TryAddPage(c))
            {
                return 0;
            }

            chunk = c.CarveNext;
            c.CarveNext += c.ChunkSize;
            c.CarveLeft--;
            c.UsedChunks++;
            return chunk;
        }
    }

    public void Free(int slabClass, nint chunk)
    {
        SlabClass c = _classes[slabClass];
        lock (c.Gate)
        {
            if (_disposed)
            {
                return;
            }

            *(nint*)chunk = c.FreeHead;
            c.FreeHead = chunk;
            c.FreeCount++;
            c.UsedChunks--;
        }
    }

    public nint TryAllocateLarge(int size)
    {
        if (!TryReserve(size, force: false))
        {
            return 0;
        }

        try
        {
            return (nint)NativeMemory.Alloc((nuint)size);
        }
        catch (OutOfMemoryException)
        {
            Interlocked.Add(ref _allocatedBytes, -size);
            return 0;
        }
    }

    public void FreeLarge(nint block, int size)
    {
        NativeMemory.Free((void*)block);
        Interlocked.Add(ref _allocatedBytes, -size);
    }

    public SlabClassSnapshot Snapshot(int slabClass)
    {
        SlabClass c = _classes[slabClass];
        lock (c.Gate)
        {
            return new SlabClassSnapshot(c.ChunkSize, c.ChunksPerPage, c.Pages.Count, c.UsedChunks);
        }
    }

    /// <summary>Frees every page. Large allocations belong to the index entries and are freed by the store.</summary>
    public void Dispose()
    {
        if (Volatile.Read(ref _disposed))
        {
            return;
        }

        Volatile.Write(ref _disposed, true);
        foreach (SlabClass c in _classes)
        {
            lock (c.Gate)
            {
                Interlocked.Add(ref _allocatedBytes, -(long)PageSize * c.Pages.Count);
                c.Pages.Clear();
                c.FreeHead = 0;
                c.FreeCount = 0;
                c.CarveNext = 0;
                c.CarveLeft = 0;
                c.UsedChunks = 0;
            }
        }

        _pages.Dispose();
    }

    private bool TryAddPage(SlabClass c)
    {
        // memcached grants every class its first page even over the limit (do_slabs_newslab), so a size
        // nobody has stored yet can still be stored, or make room by evicting, once memory is full.
        if (!TryReserve(PageSize, force: c.Pages.Count == 0))
        {
            return false;
        }

        nint page;
        try
        {
            page = _pages.Rent();
        }
        catch (OutOfMemoryException)
        {
            Interlocked.Add(ref _allocatedBytes, -PageSize);
            return false;
        }

        c.Pages.Add(page);
        c.CarveNext = page;
        c.CarveLeft = c.ChunksPerPage;
        return true;
    }

    private bool TryReserve(long bytes, bool force)
    {
        while (true)
        {
            long current = Volatile.Read(ref _allocatedBytes);
            long next = current + bytes;
            if (!force && next > Volatile.Read(ref _limit))
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _allocatedBytes, next, current) == current)
            {
                return true;
            }
        }
    }

    private sealed class SlabClass
    {
        public readonly Lock Gate = new();
        public readonly int ChunkSize;
        public readonly int ChunksPerPage;
        public readonly List<nint> Pages = [];
        public nint FreeHead;
        public long FreeCount;
        public nint CarveNext;
        public int CarveLeft;
        public long UsedChunks;

        public SlabClass(int chunkSize)
        {
            ChunkSize = chunkSize;
            ChunksPerPage = PageSize / chunkSize;
        }
    }
}

internal readonly record struct SlabClassSnapshot(int ChunkSize, int ChunksPerPage, long Pages, long UsedChunks);
