namespace Cairn.Cli.Reshard;

/// <summary>What a reshard has done so far; updated by every mover at once, read by the progress display.</summary>
internal sealed class ReshardCounters
{
    private long _moved;
    private long _keptNewer;
    private long _vanished;
    private long _leftBehind;
    private long _bytes;

    /// <summary>Copied to the new owner, then deleted from the old.</summary>
    public long Moved => Interlocked.Read(ref _moved);

    /// <summary>The new owner already held the key (written there by a client, or copied by an earlier run).</summary>
    public long KeptNewer => Interlocked.Read(ref _keptNewer);

    /// <summary>Gone from the old owner before it could be read or deleted (a client deleted it, or it expired).</summary>
    public long Vanished => Interlocked.Read(ref _vanished);

    /// <summary>Still changing on the old owner after every attempt; left there for the next run.</summary>
    public long LeftBehind => Interlocked.Read(ref _leftBehind);

    public long Bytes => Interlocked.Read(ref _bytes);

    public long Finished => Moved + KeptNewer + Vanished + LeftBehind;

    public void AddMoved(long bytes)
    {
        Interlocked.Increment(ref _moved);
        Interlocked.Add(ref _bytes, bytes);
    }

    public void AddKeptNewer() => Interlocked.Increment(ref _keptNewer);

    public void AddVanished() => Interlocked.Increment(ref _vanished);

    public void AddLeftBehind(long count) => Interlocked.Add(ref _leftBehind, count);
}

/// <summary>
/// Moves keys from one node to another without losing an acknowledged write: the copy is an add (a version the
/// new owner already holds wins), and the old copy is deleted only after the new owner acknowledged, and only
/// while it still holds the version that was copied (CAS), so a write that reached the old owner meanwhile is
/// copied again rather than deleted.
/// </summary>
internal sealed class ItemMover(MetaPipe source, MetaPipe destination, ReshardCounters counters)
{
    /// <summary>How often a key that keeps changing on its old owner is copied again before it is left for later.</summary>
    private const int Attempts = 5;

    public async Task MoveAsync(IReadOnlyList<byte[]> keys, int batchSize, CancellationToken cancellation)
    {
        foreach (var batch in keys.Chunk(batchSize))
        {
            cancellation.ThrowIfCancellationRequested();
            await MoveBatchAsync(batch);
        }
    }

    private async Task MoveBatchAsync(byte[][] batch)
    {
        // The CAS of the copy this run stored on the new owner: a retry may replace that copy, and nothing else.
        var ownCopies = new Dictionary<byte[], ulong>(ReferenceEqualityComparer.Instance);
        IReadOnlyList<byte[]> pending = batch;
        for (var attempt = 0; attempt < Attempts && pending.Count > 0; attempt++)
        {
            var items = await source.GetAsync(pending);
            var present = new List<(byte[] Key, CopiedItem Item)>(pending.Count);
            for (var i = 0; i < pending.Count; i++)
            {
                if (items[i] is { } item)
                {
                    present.Add((pending[i], item));
                }
                else
                {
                    counters.AddVanished();
                }
            }

            var stores = present
                .Select(p => (p.Key, p.Item, ownCopies.TryGetValue(p.Key, out var cas) ? cas : (ulong?)null))
                .ToArray();
            var stored = await destination.StoreAsync(stores);
            var copied = new bool[present.Count];
            for (var i = 0; i < present.Count; i++)
            {
                copied[i] = stored[i].Outcome == MetaOutcome.Done;
                if (copied[i])
                {
                    ownCopies[present[i].Key] = stored[i].Cas;
                }
                else
                {
                    // NS: the add found the key; EX/NF: a client replaced or deleted our copy. Either way the new
                    // owner holds a later decision than the old owner's value, so the new owner wins.
                    ownCopies.Remove(present[i].Key);
                }
            }

            var deleted = await source.DeleteAsync(present.Select(p => (p.Key, p.Item.Cas)).ToArray());
            var retry = new List<byte[]>();
            for (var i = 0; i < present.Count; i++)
            {
                switch (deleted[i])
                {
                    case MetaOutcome.Exists:
                        retry.Add(present[i].Key);
                        break;
                    case MetaOutcome.NotFound:
                        counters.AddVanished();
                        break;
                    case var _ when copied[i]:
                        counters.AddMoved(present[i].Item.Value.Length);
                        break;
                    default:
                        counters.AddKeptNewer();
                        break;
                }
            }

            pending = retry;
        }

        counters.AddLeftBehind(pending.Count);
    }
}
