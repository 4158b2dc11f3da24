namespace Cairn.Storage.Log;

/// <summary>Mid-log damage (or a damaged manifest) that recovery will not cut without the operator's permission.</summary>
public sealed class LogCorruptionException : Exception
{
    /// <summary>The command-line flag that allows recovery to cut the log at the damage.</summary>
    public const string TruncateFlag = "--truncate-corrupt-log";

    public LogCorruptionException(string file, long offset, string reason)
        : base($"log corruption in {file} at byte offset {offset}: {reason}. Valid records follow the damage, so this is not a torn tail; "
            + $"refusing to start rather than lose them silently. Pass {TruncateFlag} (LogOptions.TruncateAtCorruption) to keep the records before offset {offset}, "
            + "move the damaged bytes and every later segment aside, and continue.")
    {
        File = file;
        Offset = offset;
    }

    private LogCorruptionException(string message, string file, long offset)
        : base(message)
    {
        File = file;
        Offset = offset;
    }

    public string File { get; }

    public long Offset { get; }

    /// <summary>Damage the truncate flag cannot fix (a damaged or missing MANIFEST): the message says what to do instead.</summary>
    internal static LogCorruptionException Unrecoverable(string file, long offset, string message) => new(message, file, offset);
}

/// <summary>A write or fsync of the records being waited for failed; the writer keeps retrying, but this wait is over.</summary>
public sealed class LogWriteException : IOException
{
    public LogWriteException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Another process (or another <see cref="AppendLog"/> in this one) holds the data directory's LOCK.</summary>
public sealed class DataDirectoryLockedException : IOException
{
    public DataDirectoryLockedException(string directory, Exception? innerException)
        : base($"data directory {directory} is locked: another cairn-server holds {Path.Combine(directory, "LOCK")}. Stop it or choose another directory.", innerException)
    {
        Directory = directory;
    }

    public string Directory { get; }
}
