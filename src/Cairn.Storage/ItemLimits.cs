namespace Cairn.Storage;

/// <summary>The size rule behind "SERVER_ERROR object too large for cache", shared by the store and the connection's pre-check.</summary>
public static class ItemLimits
{
    /// <summary>
    /// memcached charges its item header (48 bytes), the CAS (8), the key's terminating NUL (1) and the data's "\r\n" (2)
    /// against -I, and 4 more when the client flags are not 0 (it stores no flags otherwise); so does Cairn, so exactly
    /// the same values fit (measured against memcached 1.6.18 at -I 1m: 1 + 1,048,516 bytes fit, 1 + 1,048,512 with flags).
    /// </summary>
    public const int PerItemOverhead = 48 + 8 + 1 + 2;

    public const int ClientFlagsOverhead = 4;

    public static bool Fits(int keyLength, long valueLength, uint flags, int maxItemSize) =>
        keyLength + valueLength + PerItemOverhead + (flags != 0 ? ClientFlagsOverhead : 0) <= maxItemSize;
}
