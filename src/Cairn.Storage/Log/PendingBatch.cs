namespace Cairn.Storage.Log;

/// <summary>A batch taken from the append buffer, from its taking to its publishing.</summary>
internal struct PendingBatch
{
    public byte[] Buffer;
    public int Length;
    public int Records;
    public long End;
    public ulong LastSequence;
    public long Offset;

    /// <summary>Appended to the unsynced region (EverySecond), so a rewrite after a failure covers it.</summary>
    public bool Kept;

    public readonly ReadOnlySpan<byte> Bytes => Buffer.AsSpan(0, Length);
}
