namespace Cairn.Protocol.Text;

/// <summary>memcached's reply lines, byte for byte.</summary>
public static class TextReplies
{
    public static ReadOnlySpan<byte> Stored => "STORED\r\n"u8;
    public static ReadOnlySpan<byte> NotStored => "NOT_STORED\r\n"u8;
    public static ReadOnlySpan<byte> Exists => "EXISTS\r\n"u8;
    public static ReadOnlySpan<byte> NotFound => "NOT_FOUND\r\n"u8;
    public static ReadOnlySpan<byte> Deleted => "DELETED\r\n"u8;
    public static ReadOnlySpan<byte> Touched => "TOUCHED\r\n"u8;
    public static ReadOnlySpan<byte> End => "END\r\n"u8;
    public static ReadOnlySpan<byte> Ok => "OK\r\n"u8;
    public static ReadOnlySpan<byte> Reset => "RESET\r\n"u8;
    public static ReadOnlySpan<byte> Error => "ERROR\r\n"u8;
    public static ReadOnlySpan<byte> Value => "VALUE "u8;
    public static ReadOnlySpan<byte> Stat => "STAT "u8;
    public static ReadOnlySpan<byte> Crlf => "\r\n"u8;

    public static ReadOnlySpan<byte> BadCommandLineFormat => "CLIENT_ERROR bad command line format\r\n"u8;
    public static ReadOnlySpan<byte> BadCommandLine => "CLIENT_ERROR bad command line\r\n"u8;
    public static ReadOnlySpan<byte> DeleteUsage => "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"u8;
    public static ReadOnlySpan<byte> BadDataChunk => "CLIENT_ERROR bad data chunk\r\n"u8;
    public static ReadOnlySpan<byte> InvalidExptime => "CLIENT_ERROR invalid exptime argument\r\n"u8;
    public static ReadOnlySpan<byte> InvalidDelta => "CLIENT_ERROR invalid numeric delta argument\r\n"u8;
    public static ReadOnlySpan<byte> NonNumericValue => "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"u8;
    public static ReadOnlySpan<byte> FlushDisabled => "CLIENT_ERROR flush_all not allowed\r\n"u8;
    public static ReadOnlySpan<byte> CachedumpNotAllowed => "CLIENT_ERROR stats cachedump not allowed\r\n"u8;
    public static ReadOnlySpan<byte> InvalidShutdownMode => "CLIENT_ERROR invalid shutdown mode\r\n"u8;
    public static ReadOnlySpan<byte> ShutdownNotEnabled => "ERROR: shutdown not enabled\r\n"u8;

    /// <summary>Cairn's replicaof without --enable-replicaof, worded as memcached words shutdown without -A.</summary>
    public static ReadOnlySpan<byte> ReplicaOfNotEnabled => "ERROR: replicaof not enabled\r\n"u8;
    public static ReadOnlySpan<byte> ObjectTooLarge => "SERVER_ERROR object too large for cache\r\n"u8;
    public static ReadOnlySpan<byte> OutOfMemoryStoring => "SERVER_ERROR out of memory storing object\r\n"u8;
    public static ReadOnlySpan<byte> OutOfMemory => "SERVER_ERROR out of memory\r\n"u8;
    public static ReadOnlySpan<byte> PersistenceOff => "SERVER_ERROR persistence is off (--no-persist)\r\n"u8;
    public static ReadOnlySpan<byte> ServerErrorPrefix => "SERVER_ERROR "u8;
    public static ReadOnlySpan<byte> TooManyConnections => "ERROR Too many open connections\r\n"u8;
    public static ReadOnlySpan<byte> MemlimitTooSmall => "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"u8;
    public static ReadOnlySpan<byte> MemlimitNotBytes => "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"u8;
}
