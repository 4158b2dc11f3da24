namespace Cairn.Protocol.Text;

/// <summary>One parsed command line. Spans point into the caller's line buffer; nothing is copied.</summary>
public ref struct TextCommand
{
    public TextCommandKind Kind;

    /// <summary>The whole reply for a refused line (memcached's words), when <see cref="Kind"/> is Invalid.</summary>
    public ReadOnlySpan<byte> ErrorReply;

    public ReadOnlySpan<byte> Key;

    /// <summary>For get/gets/gat/gats: the rest of the line from the first key; iterate with <see cref="KeyEnumerator"/>.</summary>
    public ReadOnlySpan<byte> Keys;

    public uint Flags;
    public int Exptime;

    /// <summary>Storage commands: the data length announced on the line, without the trailing \r\n.</summary>
    public int ByteCount;

    public ulong CasUnique;
    public ulong Delta;
    public bool NoReply;

    /// <summary>
    /// For a refused storage line whose length still parsed: how many bytes (data and \r\n) follow and
    /// must be skipped so they are never read as commands. Zero when nothing follows.
    /// </summary>
    public int SwallowLength;

    /// <summary>The short form "set key bytes": its data block may end with a bare \n, as nc and hand-typed sessions send it.</summary>
    public bool BareNewlineEndsData;

    /// <summary>flush_all: a delay was given. verbosity and cache_memlimit: the numeric argument.</summary>
    public bool HasArgument;

    public uint NumericArgument;

    /// <summary>All tokens of the line, for commands with sub-commands (stats, shutdown).</summary>
    public TextTokens Tokens;

    /// <summary>Meta commands: the flags as parsed (and the raw flag tokens, to echo in order).</summary>
    public MetaFlags Meta;

    public readonly KeyEnumerator EnumerateKeys() => new(Keys);

    public void Refuse(ReadOnlySpan<byte> reply)
    {
        Kind = TextCommandKind.Invalid;
        ErrorReply = reply;
    }
}

/// <summary>Walks space-separated keys of a multi-key line without allocating.</summary>
public ref struct KeyEnumerator
{
    private ReadOnlySpan<byte> _remaining;

    public KeyEnumerator(ReadOnlySpan<byte> keys)
    {
        _remaining = keys;
        Current = default;
    }

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly KeyEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        var start = 0;
        while (start < _remaining.Length && _remaining[start] == (byte)' ')
        {
            start++;
        }

        if (start == _remaining.Length)
        {
            _remaining = default;
            return false;
        }

        var rest = _remaining[start..];
        var end = rest.IndexOf((byte)' ');
        if (end < 0)
        {
            Current = rest;
            _remaining = default;
        }
        else
        {
            Current = rest[..end];
            _remaining = rest[(end + 1)..];
        }

        return true;
    }
}
