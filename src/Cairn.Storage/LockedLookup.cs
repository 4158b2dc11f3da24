namespace Cairn.Storage;

/// <summary>
/// A key's place in the index with its shard's lock held: what every keyed operation starts from. Made only by
/// <see cref="SlabItemStore"/>'s lookup, which validates the key, hashes it, picks and locks the shard, checks the store
/// is open, reads the clock once and finds the live item (reclaiming a dead one met on the way). Disposing releases
/// the lock, so a <c>using</c> bounds the operation.
/// </summary>
internal ref struct LockedLookup
{
    private Lock.Scope _scope;

    public LockedLookup(Lock.Scope scope, Shard shard, ulong hash, long now, int index)
    {
        _scope = scope;
        Shard = shard;
        Hash = hash;
        Now = now;
        Index = index;
    }

    public Shard Shard { get; }

    public ulong Hash { get; }

    /// <summary>Unix seconds, read once under the lock so the whole operation judges expiry by one clock.</summary>
    public long Now { get; }

    /// <summary>The live item's slot in <see cref="Shard.Entries"/>, or -1 when the key has none.</summary>
    public int Index { get; }

    public readonly bool Found => Index >= 0;

    /// <summary>The live item's index entry; only when <see cref="Found"/>.</summary>
    public readonly ref Entry Entry => ref Shard.Entries[Index];

    public void Dispose() => _scope.Dispose();
}
