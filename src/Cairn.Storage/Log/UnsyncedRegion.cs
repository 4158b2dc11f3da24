namespace Cairn.Storage.Log;

/// <summary>
/// The bytes written to the current segment since its last good fsync, in one reused region. They are
/// contiguous (the segment only grows, and rotation fsyncs first), so a rewrite is a single write.
/// </summary>
internal sealed class UnsyncedRegion
{
    /// <summary>
    /// Batches written since the last good fsync, kept because a failed fsync may drop their dirty pages and
    /// they must then be written again. Bounded by fsyncing early past this many bytes (Redis fsyncs its rewrites
    /// incrementally for the same reason), so a fast writer under everysec costs more fsyncs, never unbounded memory.
    /// </summary>
    public const int MaxUnsyncedBytes = 8 * 1024 * 1024;

    private byte[] _bytes = [];

    public long StartOffset { get; private set; }

    public int Length { get; private set; }

    public bool IsEmpty => Length == 0;

    public ReadOnlySpan<byte> Bytes => _bytes.AsSpan(0, Length);

    public bool Fits(int length) => (long)Length + length <= MaxUnsyncedBytes;

    public long Room => MaxUnsyncedBytes - Length;

    public void Append(ReadOnlySpan<byte> data, long offset)
    {
        if (Length == 0)
        {
            StartOffset = offset;
        }

        if (_bytes.Length < Length + data.Length)
        {
            Array.Resize(ref _bytes, (int)Math.Min(MaxUnsyncedBytes, Math.Max((long)_bytes.Length * 2, Length + data.Length)));
        }

        data.CopyTo(_bytes.AsSpan(Length));
        Length += data.Length;
    }

    public void Clear() => Length = 0;
}

