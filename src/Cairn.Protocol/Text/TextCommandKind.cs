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

    /// <summary>"lru_crawler metadump|mgdump &lt;classes|all|hash&gt;": every live key, streamed (the rest of lru_crawler is not served).</summary>
    LruCrawlerDump,

    /// <summary>Cairn's own: rewrite the log as a snapshot of the live items, reply OK when done.</summary>
    Compact,

    /// <summary>Cairn's own: a replica asks to be streamed the log ("replicate &lt;replid&gt; &lt;sequence&gt;").</summary>
    Replicate,

    /// <summary>Cairn's own, as Redis's REPLICAOF: "replicaof &lt;host&gt; &lt;port&gt;" or "replicaof no one".</summary>
    ReplicaOf,

    /// <summary>Meta commands: mg, ms, md, ma, mn, me.</summary>
    MetaGet,
    MetaSet,
    MetaDelete,
    MetaArithmetic,
    MetaNoOp,
    MetaDebug,
}

public static class TextCommandKindExtensions
{
    public static bool IsStorage(this TextCommandKind kind) => kind is >= TextCommandKind.Set and <= TextCommandKind.Cas;

    public static bool IsRetrieval(this TextCommandKind kind) => kind is >= TextCommandKind.Get and <= TextCommandKind.Gats;

    /// <summary>Commands that may change what a restart would see, and so wait for the log before their reply goes out.</summary>
    public static bool Mutates(this TextCommandKind kind) =>
        kind.IsStorage() || kind is TextCommandKind.Delete or TextCommandKind.Incr or TextCommandKind.Decr
            or TextCommandKind.Touch or TextCommandKind.Gat or TextCommandKind.Gats or TextCommandKind.FlushAll
            or TextCommandKind.MetaSet or TextCommandKind.MetaDelete or TextCommandKind.MetaArithmetic;
}
