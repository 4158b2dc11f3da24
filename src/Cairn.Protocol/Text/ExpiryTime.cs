namespace Cairn.Protocol.Text;

/// <summary>memcached's rules for the exptime field, turned into absolute Unix seconds (0 = never).</summary>
public static class ExpiryTime
{
    /// <summary>Beyond this many seconds (30 days) memcached reads exptime as an absolute Unix time.</summary>
    public const int MaxRelativeSeconds = 60 * 60 * 24 * 30;

    /// <summary>An absolute time long past: what a negative exptime becomes, so the item is expired at once.</summary>
    public const long AlreadyExpired = 1;

    public static long ToAbsolute(long exptime, long nowUnixSeconds)
    {
        if (exptime == 0)
        {
            return 0;
        }

        if (exptime < 0)
        {
            return AlreadyExpired;
        }

        return exptime > MaxRelativeSeconds ? exptime : nowUnixSeconds + exptime;
    }
}
