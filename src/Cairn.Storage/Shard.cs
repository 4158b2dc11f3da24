using System.Runtime.InteropServices;

namespace Cairn.Storage;

/// <summary>
/// One slice of the index: a chained hash table kept in two arrays of structs (buckets and entries,
/// linked by int) plus a per-slab-class LRU list threaded through the same entries. Links are
/// index + 1 so that 0 means "none" and fresh arrays need no fill. Every member is called with
/// <see cref="Gate"/> held; the counters are read without it for statistics.
/// </summary>
internal sealed unsafe class Shard
{
    /// <summary>A power of two: a bucket is the hash's low bits.</summary>
    private const int InitialBuckets = 512;

    public readonly Lock Gate = new();
    public readonly int Id;

    /// <summary>Per slab class (and the large pseudo class): most and least recently used entry.</summary>
    public readonly int[] LruHead;
    public readonly int[] LruTail;
    public readonly long[] ClassItems;
    public readonly long[] ClassEvictions;

    public int[] Buckets;
    public readonly EntryTable Entries = new();

    /// <summary>Slots below this have been used at least once; free ones have <see cref="Entry.Data"/> 0.</summary>
    public int HighWater;
    public int FreeList;
    public int Count;

    /// <summary>Sum of key and value lengths of the items here.</summary>
    public long Bytes;

    /// <summary>The pseudo class of items whose value is only on disk (their data is the key alone), and their values' bytes.</summary>
    public readonly int ColdClass;
    public long ColdValueBytes;
    public long Demotions;
    public long Promotions;
    public long TotalItems;
    public long Evictions;
    public long Reclaimed;
    public long ExpiredUnfetched;
    public long EvictedUnfetched;

    /// <summary>Lookups that found the key expired, or flushed (memcached's get_expired and get_flushed).</summary>
    public long GetExpired;
    public long GetFlushed;
    public int SweepCursor;

    /// <param name="id">The shard's place in the store's array.</param>
    /// <param name="classCount">Slab classes plus the large class plus the cold class, which is the last.</param>
    public Shard(int id, int classCount)
    {
        Id = id;
        ColdClass = classCount - 1;
        LruHead = new int[classCount];
        LruTail = new int[classCount];
        ClassItems = new long[classCount];
        ClassEvictions = new long[classCount];
        Buckets = new int[InitialBuckets];
    }

    public int Find(ulong hash, ReadOnlySpan<byte> key)
    {
        EntryTable entries = Entries;
        for (int link = Buckets[BucketOf(hash)]; link != 0;)
        {
            ref Entry e = ref entries[link - 1];
            if (e.Hash == (uint)hash && e.KeyLength == key.Length && key.SequenceEqual(new ReadOnlySpan<byte>((void*)e.Data, e.KeyLength)))
            {
                return link - 1;
            }

            link = e.Next;
        }

        return -1;
    }

    /// <summary>Adds an entry for data already written and puts it at the head of its LRU.</summary>
    public int Insert(ulong hash, nint data, int keyLength, int valueLength, int slabClass)
    {
        int index;
        if (FreeList != 0)
        {
            index = FreeList - 1;
            FreeList = Entries[index].Next;
        }
        else
        {
            if (HighWater == Entries.Capacity)
            {
                Grow();
            }

            index = HighWater++;
        }

        ref int bucket = ref Buckets[BucketOf(hash)];
        ref Entry e = ref Entries[index];
        e = default;
        e.Hash = (uint)hash;
        e.Data = data;
        e.KeyLength = (byte)keyLength;
        e.ValueLength = valueLength;
        e.SlabClass = (byte)slabClass;
        e.Next = bucket;
        bucket = index + 1;

        Count++;
        Bytes += keyLength + valueLength;
        ClassItems[slabClass]++;
        if (slabClass == ColdClass)
        {
            ColdValueBytes += valueLength;
        }

        LruPushHead(index);
        return index;
    }

    /// <summary>Points an entry that is off its LRU at new data, then puts it back at the head of the new class's LRU.</summary>
    public void Rebind(int index, nint data, int valueLength, int slabClass)
    {
        ref Entry e = ref Entries[index];
        Bytes += valueLength - e.ValueLength;
        ClassItems[e.SlabClass]--;
        ClassItems[slabClass]++;
        if (e.SlabClass == ColdClass)
        {
            ColdValueBytes -= e.ValueLength;
        }

        if (slabClass == ColdClass)
        {
            ColdValueBytes += valueLength;
        }

        e.Data = data;
        e.ValueLength = valueLength;
        e.SlabClass = (byte)slabClass;
        LruPushHead(index);
    }

    /// <summary>Changes the value length of data rewritten in place.</summary>
    public void Resize(int index, int valueLength)
    {
        ref Entry e = ref Entries[index];
        Bytes += valueLength - e.ValueLength;
        e.ValueLength = valueLength;
    }

    /// <summary>Unlinks an entry (which must be on its LRU) and frees its slot; the caller owns its data.</summary>
    public void Remove(int index)
    {
        ref Entry e = ref Entries[index];
        ref int link = ref Buckets[BucketOf(e.Hash)];
        while (link != index + 1)
        {
            link = ref Entries[link - 1].Next;
        }

        link = e.Next;
        LruRemove(index);
        Count--;
        Bytes -= e.KeyLength + e.ValueLength;
        ClassItems[e.SlabClass]--;
        if (e.SlabClass == ColdClass)
        {
            ColdValueBytes -= e.ValueLength;
        }

        e = default;
        e.Next = FreeList;
        FreeList = index + 1;
    }

    /// <summary>Forgets every entry, keeping the arrays' capacity. The caller has freed the data.</summary>
    public void Clear()
    {
        Array.Clear(Buckets);
        Entries.Clear(HighWater);
        Array.Clear(LruHead);
        Array.Clear(LruTail);
        Array.Clear(ClassItems);
        HighWater = 0;
        FreeList = 0;
        Count = 0;
        Bytes = 0;
        ColdValueBytes = 0;
        SweepCursor = 0;
    }

    public void LruPushHead(int index)
    {
        ref Entry e = ref Entries[index];
        int slabClass = e.SlabClass;
        int head = LruHead[slabClass];
        e.LruPrev = 0;
        e.LruNext = head;
        if (head != 0)
        {
            Entries[head - 1].LruPrev = index + 1;
        }
        else
        {
            LruTail[slabClass] = index + 1;
        }

        LruHead[slabClass] = index + 1;
    }

    public void LruRemove(int index)
    {
        ref Entry e = ref Entries[index];
        int slabClass = e.SlabClass;
        if (e.LruPrev != 0)
        {
            Entries[e.LruPrev - 1].LruNext = e.LruNext;
        }
        else
        {
            LruHead[slabClass] = e.LruNext;
        }

        if (e.LruNext != 0)
        {
            Entries[e.LruNext - 1].LruPrev = e.LruPrev;
        }
        else
        {
            LruTail[slabClass] = e.LruPrev;
        }

        e.LruPrev = 0;
        e.LruNext = 0;
    }

    public void LruBump(int index)
    {
        if (LruHead[Entries[index].SlabClass] != index + 1)
        {
            LruRemove(index);
            LruPushHead(index);
        }
    }

    private int BucketOf(ulong hash) => (int)((uint)hash & (uint)(Buckets.Length - 1));

    /// <summary>One more block of entries; only called when every slot is in use. Buckets double to stay at least as many as slots.</summary>
    private void Grow()
    {
        Entries.AddBlock();
        if (Entries.Capacity <= Buckets.Length)
        {
            return;
        }

        Buckets = new int[Buckets.Length * 2];
        for (int i = 0; i < HighWater; i++)
        {
            ref Entry e = ref Entries[i];
            if (e.Data != 0)
            {
                ref int bucket = ref Buckets[BucketOf(e.Hash)];
                e.Next = bucket;
                bucket = i + 1;
            }
        }
    }
}

/// <summary>
/// Everything about an item except its bytes, which are key then value in <see cref="Data"/> (the key alone for a value
/// only on disk). 64 bytes: the hash keeps its low 32 bits (buckets use the low bits, the key comparison settles the
/// rest) and the expiry is 32-bit seconds, which leaves room for <see cref="Location"/> without growing the entry.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Entry
{
    /// <summary>Expiry is kept as seconds from here, exact for any time between 1952 and 2088 and clamped outside.</summary>
    private const long ExpiryBase = 1_577_836_800;

    public uint Hash;

    /// <summary>Seconds after <see cref="ExpiryBase"/>; 0 never.</summary>
    private int _expiry;

    /// <summary>A slab chunk or, for the large class, an allocation of exactly key + value bytes; for the cold class the key alone; 0 on a free slot.</summary>
    public nint Data;
    public ulong Cas;

    /// <summary>Where the item's newest Set record is in the log (<see cref="Tiering.DiskLocation"/>); 0 when not known.</summary>
    public long Location;

    /// <summary>Next entry in the bucket chain, or in the free list for a free slot.</summary>
    public int Next;
    public int LruPrev;
    public int LruNext;
    public int ValueLength;
    public uint Flags;
    public int StoredAt;
    public int LastAccess;
    public byte KeyLength;
    public byte SlabClass;
    public bool Fetched;

    /// <summary>Meta protocol state: <see cref="MetaBits.Stale"/> and <see cref="MetaBits.WinTokenSent"/>; fits in the padding.</summary>
    public byte MetaBits;

    /// <summary>Absolute Unix seconds; 0 never.</summary>
    public long ExpiresAt
    {
        readonly get => _expiry == 0 ? 0 : ExpiryBase + _expiry;
        set
        {
            if (value == 0)
            {
                _expiry = 0;
                return;
            }

            // The base second itself would read as "never": one second earlier is as dead, the base being long past.
            int relative = (int)Math.Clamp(value - ExpiryBase, int.MinValue + 1, int.MaxValue);
            _expiry = relative == 0 ? -1 : relative;
        }
    }
}

/// <summary>Bits of <see cref="Entry.MetaBits"/>.</summary>
internal static class MetaBits
{
    /// <summary>Invalidated by md I (or ms I with an older CAS): served, but flagged X.</summary>
    public const byte Stale = 1;

    /// <summary>A client has been told it won the right to recache (W); the rest hear Z.</summary>
    public const byte WinTokenSent = 2;
}
