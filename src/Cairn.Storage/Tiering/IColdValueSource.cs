namespace Cairn.Storage.Tiering;

/// <summary>What reading a value that is only on disk came to.</summary>
public enum ColdReadStatus
{
    /// <summary>The value is in the destination.</summary>
    Read,

    /// <summary>The record has moved (compaction rewrote its segment): look the item up again.</summary>
    Moved,

    /// <summary>The bytes there are not the item's record (damaged, or the wrong record): never serve them.</summary>
    Damaged,

    /// <summary>The record could not be read now (an I/O error, or the writer is failing before it reached the disk).</summary>
    Unavailable,
}

/// <summary>
/// Where the store reads values it keeps only on disk: the log's records, named by <see cref="DiskLocation"/>. The store
/// checks nothing about the bytes; the source verifies the record (checksum, type, key, CAS) before it says Read.
/// </summary>
public interface IColdValueSource
{
    /// <summary>
    /// Reads the value of the Set record for <paramref name="key"/> with <paramref name="cas"/> at <paramref name="location"/>
    /// into <paramref name="value"/>, which is exactly the value's length. Blocks for the disk; call it without locks held
    /// where you can.
    /// </summary>
    ColdReadStatus Read(long location, ReadOnlySpan<byte> key, ulong cas, Span<byte> value);
}
