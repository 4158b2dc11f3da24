using System.Buffers;

namespace Cairn.Storage;

/// <summary>The meta protocol's operations: mg, ms, md, ma, me, with stale items and recache wins.</summary>
public sealed unsafe partial class SlabItemStore
{
    public bool MetaGet<TVisitor>(ReadOnlySpan<byte> key, in MetaGetOptions options, ref TVisitor visitor)
        where TVisitor : IMetaItemVisitor, allows ref struct
    {
        ColdItem cold;
        MetaItemState state;
        using (var item = Lookup(key))
        {
            if (!item.Found)
            {
                return options.Vivify && Vivify(item, key, options, ref visitor);
            }

            state = MetaGetLocked(item, key, options);
            if (!IsCold(ref item.Entry))
            {
                VisitMeta(ref item.Entry, in state, ref visitor);
                return true;
            }

            cold = new ColdItem(ref item.Entry, _epoch);
        }

        // As get: the disk read runs without the shard lock, with the item as it stood under it.
        return VisitColdMeta(key, cold, state, ref visitor);
    }

    /// <summary>mg N: a miss creates an empty item and this client wins the right to fill it; a T given too sets its TTL.</summary>
    private bool Vivify<TVisitor>(scoped in LockedLookup item, ReadOnlySpan<byte> key, in MetaGetOptions options, ref TVisitor visitor)
        where TVisitor : IMetaItemVisitor, allows ref struct
    {
        var vivify = new MetaStoreOptions { NewCas = options.NewCas };
        long vivifiedExpiry = options.Touch ? options.TouchExpiresAt : options.VivifyExpiresAt;
        if (StoreCore(StoreMode.Add, key, new ItemValue(ReadOnlySpan<byte>.Empty), 0, vivifiedExpiry, 0, vivify, out _, out _) != StoreResult.Stored)
        {
            return false;
        }

        int index = item.Shard.Find(item.Hash, key);
        ref Entry created = ref item.Shard.Entries[index];
        created.MetaBits |= MetaBits.WinTokenSent;

        // memcached counts the vivifying fetch: the next mg h says h1.
        created.Fetched = true;
        VisitMeta(ref created, new MetaItemState(false, item.Now, false, false, true), ref visitor);
        return true;
    }

    /// <summary>mg on a live item: touch and bump as asked, decide the recache win; returns the state before the command.</summary>
    private MetaItemState MetaGetLocked(scoped in LockedLookup item, ReadOnlySpan<byte> key, in MetaGetOptions options)
    {
        ref Entry e = ref item.Entry;
        bool hitBefore = e.Fetched;
        long lastAccess = _epoch + e.LastAccess;
        if (options.Touch)
        {
            SetExpiry(item, key, options.TouchExpiresAt);
        }

        if (options.Bump)
        {
            Bump(item, fetched: true);
        }

        bool stale = (e.MetaBits & MetaBits.Stale) != 0;
        bool sentBefore = (e.MetaBits & MetaBits.WinTokenSent) != 0;
        bool recache = options.Recache && e.ExpiresAt != 0 && e.ExpiresAt - item.Now < options.RecacheSeconds;
        bool won = !sentBefore && (stale || recache);
        if (won)
        {
            e.MetaBits |= MetaBits.WinTokenSent;
        }

        return new MetaItemState(hitBefore, lastAccess, stale, sentBefore, won);
    }

    public StoreResult MetaStore(StoreMode mode, ReadOnlySpan<byte> key, in ReadOnlySequence<byte> value, uint flags, long expiresAt, in MetaStoreOptions options, out ulong cas, out int valueLength) =>
        StoreCore(mode, key, new ItemValue(value), flags, expiresAt, 0, options, out cas, out valueLength);

    public MetaStatus MetaDelete(ReadOnlySpan<byte> key, in MetaDeleteOptions options)
    {
        using var item = Lookup(key);

        if (!item.Found)
        {
            return MetaStatus.NotFound;
        }

        ref Entry e = ref item.Entry;
        if (options.HasCompareCas && e.Cas != options.CompareCas)
        {
            return MetaStatus.Exists;
        }

        if (!options.Invalidate && !options.RemoveValue)
        {
            Remove(item, key);
            return MetaStatus.Ok;
        }

        long expiresAt = options.Invalidate && options.UpdateTtl ? options.ExpiresAt : e.ExpiresAt;
        byte bits = options.Invalidate ? MetaBits.Stale : e.MetaBits;
        if (options.RemoveValue)
        {
            // md x: the item stays as an empty value (a tombstone when combined with I).
            var store = new MetaStoreOptions { NewCas = options.NewCas, MarkStale = (bits & MetaBits.Stale) != 0 };
            if (StoreCore(StoreMode.Set, key, new ItemValue(ReadOnlySpan<byte>.Empty), e.Flags, expiresAt, 0, store, out _, out _) != StoreResult.Stored)
            {
                return MetaStatus.OutOfMemory;
            }

            return MetaStatus.Ok;
        }

        // md I: a new CAS, stale, and nobody has won the recache yet. The journal rewrites the value, so it must be in memory.
        if (!EnsureInMemory(item, key))
        {
            return MetaStatus.NotFound;
        }

        e.Cas = options.NewCas != 0 ? options.NewCas : NextCas();
        e.ExpiresAt = expiresAt;
        e.MetaBits = bits;
        JournalStored(ref e);
        return MetaStatus.Ok;
    }

    public MetaStatus MetaApplyDelta(ReadOnlySpan<byte> key, in MetaArithmeticOptions options, out MetaArithmeticOutcome outcome)
    {
        outcome = default;
        using var item = Lookup(key);

        Shard shard = item.Shard;
        long now = item.Now;
        int index = item.Index;
        Span<byte> digits = stackalloc byte[CounterText.MaxDigits];
        if (index < 0)
        {
            if (!options.Vivify)
            {
                return MetaStatus.NotFound;
            }

            // ma N: a miss creates the item holding J (the delta is not applied).
            int initialLength = CounterText.Format(options.Initial, digits);
            var store = new MetaStoreOptions { NewCas = options.NewCas };
            var result = StoreCore(StoreMode.Add, key, new ItemValue(digits[..initialLength]), 0, options.VivifyExpiresAt, 0, store, out ulong createdCas, out _);
            if (result != StoreResult.Stored)
            {
                return result == StoreResult.OutOfMemory ? MetaStatus.OutOfMemory : MetaStatus.NotStored;
            }

            outcome = new MetaArithmeticOutcome(options.Initial, createdCas, options.VivifyExpiresAt);
            return MetaStatus.Ok;
        }

        ref Entry e = ref shard.Entries[index];
        if (options.HasCompareCas && e.Cas != options.CompareCas)
        {
            return MetaStatus.Exists;
        }

        if (!EnsureInMemory(item, key))
        {
            return MetaStatus.NotFound;
        }

        byte* valueStart = (byte*)e.Data + e.KeyLength;
        if (!CounterText.TryParse(new ReadOnlySpan<byte>(valueStart, e.ValueLength), out ulong number))
        {
            return MetaStatus.NonNumeric;
        }

        ulong delta = options.Delta;
        number = options.Increment ? unchecked(number + delta) : (delta >= number ? 0 : number - delta);
        int length = CounterText.Format(number, digits);

        if (length <= e.ValueLength)
        {
            // memcached writes a shorter number over the old one and pads with spaces: "10" decr 1 is "9 ".
            var target = new Span<byte>(valueStart, e.ValueLength);
            digits[..length].CopyTo(target);
            target[length..].Fill((byte)' ');
        }
        else
        {
            int total = e.KeyLength + length;
            int slabClass = _slabs.ClassFor(total);
            if (CanRewriteInPlace(ref e, slabClass, total))
            {
                digits[..length].CopyTo(new Span<byte>(valueStart, length));
                shard.Resize(index, length);
            }
            else
            {
                shard.LruRemove(index);
                nint chunk = Allocate(shard, slabClass, total, now);
                e = ref shard.Entries[index];
                if (chunk == 0)
                {
                    shard.LruPushHead(index);
                    Interlocked.Increment(ref _outOfMemoryErrors);
                    return MetaStatus.OutOfMemory;
                }

                new ReadOnlySpan<byte>((void*)e.Data, e.KeyLength).CopyTo(new Span<byte>((void*)chunk, e.KeyLength));
                digits[..length].CopyTo(new Span<byte>((byte*)chunk + e.KeyLength, length));
                FreeData(e.SlabClass, e.Data, e.KeyLength + e.ValueLength);
                shard.Rebind(index, chunk, length, slabClass);
                e = ref shard.Entries[index];
            }
        }

        e.Cas = options.NewCas != 0 ? options.NewCas : NextCas();
        if (options.UpdateTtl)
        {
            e.ExpiresAt = options.ExpiresAt;
        }

        e.LastAccess = Relative(now);
        shard.LruBump(index);
        outcome = new MetaArithmeticOutcome(number, e.Cas, e.ExpiresAt);
        JournalStored(ref e);
        return MetaStatus.Ok;
    }

    public bool TryInspect(ReadOnlySpan<byte> key, out ItemInspection inspection)
    {
        inspection = default;
        using var item = Lookup(key);

        if (!item.Found)
        {
            return false;
        }

        ref Entry e = ref item.Entry;
        inspection = new ItemInspection(e.KeyLength, e.ValueLength, e.ExpiresAt, _epoch + e.LastAccess, e.Cas, e.Fetched, e.SlabClass + 1);
        return true;
    }

    public int ShardCount => _shards.Length;

    public void InspectShard<TVisitor>(int shard, ref TVisitor visitor)
        where TVisitor : IItemInspectionVisitor, allows ref struct
    {
        Shard part = _shards[shard];
        lock (part.Gate)
        {
            ThrowIfDisposed();
            long now = Now();
            for (int i = 0; i < part.HighWater; i++)
            {
                ref Entry e = ref part.Entries[i];
                if (e.Data != 0 && !IsDead(ref e, now))
                {
                    var inspection = new ItemInspection(e.KeyLength, e.ValueLength, e.ExpiresAt, _epoch + e.LastAccess, e.Cas, e.Fetched, e.SlabClass + 1);
                    visitor.Visit(new ReadOnlySpan<byte>((byte*)e.Data, e.KeyLength), e.Flags, inspection);
                }
            }
        }
    }

    private bool VisitColdMeta<TVisitor>(ReadOnlySpan<byte> key, ColdItem cold, in MetaItemState state, ref TVisitor visitor)
        where TVisitor : IMetaItemVisitor, allows ref struct
    {
        switch (ReadColdValue(key, ref cold, out var value))
        {
            case ColdOutcome.Read:
                using (value)
                {
                    visitor.Visit(cold.View(key, value.Span), in state);
                    BringIntoMemory(key, cold.Location, value.Span);
                }

                return true;
            case ColdOutcome.InMemory:
                using (var item = Lookup(key))
                {
                    if (!item.Found || IsCold(ref item.Entry))
                    {
                        return false;
                    }

                    // The command's effects were applied already; show the item with the state from before them.
                    VisitMeta(ref item.Entry, in state, ref visitor);
                    return true;
                }

            default:
                return false;
        }
    }

    private void VisitMeta<TVisitor>(ref Entry e, in MetaItemState state, ref TVisitor visitor)
        where TVisitor : IMetaItemVisitor, allows ref struct
    {
        var view = ViewOf(ref e);
        visitor.Visit(in view, in state);
    }
}
