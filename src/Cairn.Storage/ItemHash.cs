using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cairn.Storage;

/// <summary>
/// xxHash64's short-input path (one lane) over the key bytes. Keys are at most 250 bytes, so the
/// four-lane bulk loop would not pay for itself. Each store picks a random seed so a client cannot
/// precompute keys that collide in one chain.
/// </summary>
internal static class ItemHash
{
    private const ulong Prime1 = 11400714785074694791UL;
    private const ulong Prime2 = 14029467366897019727UL;
    private const ulong Prime3 = 1609587929392839161UL;
    private const ulong Prime4 = 9650029242287828579UL;
    private const ulong Prime5 = 2870177450012600261UL;

    public static ulong Compute(ReadOnlySpan<byte> key, ulong seed)
    {
        ref byte start = ref MemoryMarshal.GetReference(key);
        int length = key.Length;
        ulong hash = seed + Prime5 + (ulong)length;
        int i = 0;

        for (; i + 8 <= length; i += 8)
        {
            ulong lane = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            lane *= Prime2;
            lane = BitOperations.RotateLeft(lane, 31);
            lane *= Prime1;
            hash ^= lane;
            hash = (BitOperations.RotateLeft(hash, 27) * Prime1) + Prime4;
        }

        if (i + 4 <= length)
        {
            hash ^= Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i)) * Prime1;
            hash = (BitOperations.RotateLeft(hash, 23) * Prime2) + Prime3;
            i += 4;
        }

        for (; i < length; i++)
        {
            hash ^= Unsafe.Add(ref start, i) * Prime5;
            hash = BitOperations.RotateLeft(hash, 11) * Prime1;
        }

        hash ^= hash >> 33;
        hash *= Prime2;
        hash ^= hash >> 29;
        hash *= Prime3;
        hash ^= hash >> 32;
        return hash;
    }
}
