namespace Cairn.Storage.Tiering;

/// <summary>
/// Where an item's newest Set record lies, packed in 8 bytes of its index entry so a value can leave memory and be read
/// back. Two forms, because an append learns its place before the writer knows the segment it will land in:
/// a record appended by this process is named by its logical log position (top bit set) until the log resolves that to a
/// segment; a record found by recovery or written by compaction is named by segment id (23 bits) and file offset
/// (40 bits, 1 TiB per segment). 0 means "not known" (a store without a log).
/// </summary>
public static class DiskLocation
{
    public const long Unknown = 0;

    private const long LogicalBit = long.MinValue;
    private const int OffsetBits = 40;
    private const long OffsetMask = (1L << OffsetBits) - 1;
    private const ulong MaxSegmentId = (1UL << 23) - 1;

    /// <summary>A record this process appended, by the logical position of its first byte.</summary>
    public static long Logical(long position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        return LogicalBit | position;
    }

    /// <summary>
    /// A record at <paramref name="offset"/> in segment <paramref name="segmentId"/>; <see cref="Unknown"/> past 2^23 - 1
    /// segments or 1 TiB into one, which only means that item's value stays in memory.
    /// </summary>
    public static long InSegment(ulong segmentId, long offset) =>
        segmentId is 0 or > MaxSegmentId || (ulong)offset > OffsetMask ? Unknown : ((long)segmentId << OffsetBits) | offset;

    public static bool IsLogical(long location) => location < 0;

    public static long LogicalPosition(long location) => location & ~LogicalBit;

    public static ulong SegmentId(long location) => (ulong)(location >> OffsetBits);

    public static long Offset(long location) => location & OffsetMask;
}
