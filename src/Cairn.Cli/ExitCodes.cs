namespace Cairn.Cli;

/// <summary>What `cairn` returns, so scripts can tell a miss from a broken server.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A get or delete found nothing, a set was not stored, or a bench run saw errors.</summary>
    public const int NotFound = 1;

    public const int Usage = 2;

    public const int Unreachable = 3;

    /// <summary>The server answered ERROR, CLIENT_ERROR or SERVER_ERROR.</summary>
    public const int ServerError = 4;

    /// <summary>`cairn reshard` finished with keys still on a node the new list does not place them on.</summary>
    public const int Incomplete = 5;

    /// <summary>A backup or data directory failed its checks (the file and offset are named); nothing was changed.</summary>
    public const int Damaged = 6;

    /// <summary>`cairn verify`: a start would repair the directory first (cut a torn tail, set files aside), then serve.</summary>
    public const int WouldRepair = 7;

    /// <summary>Ctrl-C (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;
}
