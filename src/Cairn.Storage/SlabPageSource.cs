using System.Runtime.InteropServices;

namespace Cairn.Storage;

/// <summary>
/// Where slab pages come from: 2 MiB regions aligned to 2 MiB, split into two pages and advised as transparent huge
/// pages, so the kernel maps a region with one fault instead of 512. Measured with perf: replaying 1 GiB of 1,000-byte
/// values spent about a third of its time in page faults on freshly allocated 1 MiB pages. Pages are never returned one
/// at a time (the allocator keeps every page it has carved), so regions are freed only on Dispose.
/// </summary>
internal sealed unsafe partial class SlabPageSource : IDisposable
{
    private const int RegionSize = 2 * SlabAllocator.PageSize;

    /// <summary>Linux's MADV_HUGEPAGE.</summary>
    private const int AdviseHugePage = 14;

    private readonly Lock _gate = new();
    private readonly List<nint> _regions = [];
    private nint _spare;

    /// <summary>One page of <see cref="SlabAllocator.PageSize"/> bytes; throws OutOfMemoryException when the process has none.</summary>
    public nint Rent()
    {
        lock (_gate)
        {
            if (_spare != 0)
            {
                nint page = _spare;
                _spare = 0;
                return page;
            }

            nint region = (nint)NativeMemory.AlignedAlloc(RegionSize, RegionSize);
            if (OperatingSystem.IsLinux())
            {
                // Advice only: where huge pages are off ("never") or unavailable the region is mapped in 4 KiB pages as before.
                _ = Advise(region, RegionSize, AdviseHugePage);
            }

            _regions.Add(region);
            _spare = region + SlabAllocator.PageSize;
            return region;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (nint region in _regions)
            {
                NativeMemory.AlignedFree((void*)region);
            }

            _regions.Clear();
            _spare = 0;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Advise(nint address, nuint length, int advice);
}
