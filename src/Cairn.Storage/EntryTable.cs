using System.Runtime.CompilerServices;

namespace Cairn.Storage;

/// <summary>
/// A shard's index entries in fixed blocks of 512 (32 KiB), so a shard grows by one block instead of copying itself
/// into an array twice its size. Doubling left up to half of each shard's array unused (at 10 million items about 43
/// bytes per item), held a second copy alive while the first waited for the collector, and copied every entry of the
/// shard while holding its lock. Entries never move, and at most one block per shard is partly used.
/// </summary>
internal sealed class EntryTable
{
    private const int BlockShift = 9;
    private const int BlockSize = 1 << BlockShift;
    private const int BlockMask = BlockSize - 1;

    private Entry[][] _blocks = new Entry[4][];
    private int _blockCount;

    public EntryTable() => AddBlock();

    public int Capacity => _blockCount << BlockShift;

    /// <summary>Managed bytes the entries occupy, for the index's share of memory statistics.</summary>
    public long Bytes => (long)Capacity * Unsafe.SizeOf<Entry>();

    public ref Entry this[int index] => ref _blocks[index >> BlockShift][index & BlockMask];

    public void AddBlock()
    {
        if (_blockCount == _blocks.Length)
        {
            Array.Resize(ref _blocks, _blocks.Length * 2);
        }

        _blocks[_blockCount++] = new Entry[BlockSize];
    }

    /// <summary>Zeroes the first <paramref name="count"/> entries, keeping the blocks.</summary>
    public void Clear(int count)
    {
        for (int block = 0; block < _blockCount && count > 0; block++)
        {
            int clear = Math.Min(count, BlockSize);
            Array.Clear(_blocks[block], 0, clear);
            count -= clear;
        }
    }
}
