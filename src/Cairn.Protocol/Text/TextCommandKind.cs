namespace Cairn.Protocol.Text;

public enum TextCommandKind : byte
{
    /// <summary>The line was refused; <see cref="TextCommand.ErrorReply"/> says how.</summary>
    Invalid,
    Get,
    Gets,
    Gat,
    Gats,
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
    Delete,
    Incr,
    Decr,
    Touch,
    FlushAll,
    Version,
    Verbosity,
    Quit,
    Stats,
    CacheMemlimit,
    Shutdown,
}

public static class TextCommandKindExtensions
{
    public static bool IsStorage(this TextCommandKind kind) => kind is >= TextCommandKind.Set and <= TextCommandKind.Cas;

    public static bool IsRetrieval(this TextCommandKind kind) => kind is >= TextCommandKind.Get and <= TextCommandKind.Gats;
}
