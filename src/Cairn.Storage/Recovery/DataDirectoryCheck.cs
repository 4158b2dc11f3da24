using Cairn.Storage.Log;

namespace Cairn.Storage.Recovery;

/// <summary>What a server starting on a data directory would do, found without changing anything.</summary>
/// <param name="Refusal">Why a start would stop (damage it may not cut, named by file and offset), or null.</param>
/// <param name="Changes">What a start would change first, in order (a torn tail cut, files set aside or removed).</param>
/// <param name="Report">The records, bytes and segments replayed, every record's CRC checked, up to any refusal.</param>
public sealed record DataDirectoryCheckResult(string? Refusal, IReadOnlyList<string> Changes, RecoveryReport Report);

/// <summary>
/// `cairn verify`: runs recovery's own decisions over a stopped server's data directory with every change to disk
/// replaced by a description (<see cref="RecoveryEffects.Described"/>), so the report is what a start would do.
/// </summary>
public static class DataDirectoryCheck
{
    /// <exception cref="DirectoryNotFoundException">There is no such directory.</exception>
    /// <exception cref="DataDirectoryLockedException">A running server holds the directory; its log is changing under the check.</exception>
    public static DataDirectoryCheckResult Run(string directory)
    {
        directory = Path.GetFullPath(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"{directory} does not exist");
        }

        ThrowIfHeld(directory);
        var effects = new RecoveryEffects.Described();
        var options = new LogOptions { Directory = directory };
        long records = 0;
        try
        {
            var recovered = LogRecovery.Recover(directory, options, (scoped in LogRecord _) => records++, effects);
            return new DataDirectoryCheckResult(null, effects.Changes, recovered.Report);
        }
        catch (LogCorruptionException damage)
        {
            return new DataDirectoryCheckResult(damage.Message, effects.Changes, new RecoveryReport(records, 0, 0, TimeSpan.Zero, 0, null, 0));
        }
    }

    private static void ThrowIfHeld(string directory)
    {
        var lockPath = Path.Combine(directory, SegmentFiles.LockName);
        if (!File.Exists(lockPath))
        {
            return;
        }

        try
        {
            // Opened, not created: a brief flock (FileShare.None) that a running server's lock refuses.
            using var probe = new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.None);
        }
        catch (IOException error) when (error is not FileNotFoundException)
        {
            throw new DataDirectoryLockedException(directory, error);
        }
    }
}
