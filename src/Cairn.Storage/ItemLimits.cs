namespace Cairn.Storage;

/// <summary>The size rule behind "SERVER_ERROR object too large for cache", shared by the store and the connection's pre-check.</summary>
public static class ItemLimits
{
    /// <summary>memcached charges its item header (about 48 bytes with CAS) and the data's "\r\n" against -I; so does Cairn, so the same values fit.</summary>
    public const int PerItemOverhead = 48 + 2;

    public static bool Fits(int keyLength, long valueLength, int maxItemSize) =>
        keyLength + valueLength + PerItemOverhead <= maxItemSize;
}
