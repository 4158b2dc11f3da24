namespace Cairn.Storage;

/// <summary>
/// Receives every change a restart must reproduce, as its effect (final values, absolute times), while
/// the store still holds the key's shard lock, so the journal's order per key is the store's order.
/// Implementations only buffer: no I/O happens on this path.
/// </summary>
public interface IStoreJournal
{
    /// <summary>
    /// An item's whole new state; <paramref name="stale"/> when meta I invalidated it (served stale until rewritten).
    /// Returns where the record will lie (<see cref="Tiering.DiskLocation"/>), or 0 when it will not be readable back.
    /// </summary>
    long Stored(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale);

    /// <summary>A delete, an eviction, or the removal that follows a refused set.</summary>
    void Removed(ReadOnlySpan<byte> key);

    void Touched(ReadOnlySpan<byte> key, long expiresAt);

    /// <summary>flush_all now: every item stored before this call is gone (reported while no store can run); <paramref name="casUpTo"/> is the highest CAS handed out.</summary>
    void FlushedAll(ulong casUpTo);

    /// <summary>flush_all with a delay: items stored before that moment go when it comes.</summary>
    void FlushScheduled(long atUnixSeconds);
}
