using System.Text;

namespace Cairn.Protocol.Text;

/// <summary>
/// Turns one command line (without its line ending) into a <see cref="TextCommand"/>, following memcached
/// 1.6's process_command_ascii: the same token-count checks, the same number rules and the same error
/// words. Two documented extensions: command names are case-insensitive, and a storage command may omit
/// flags and exptime (<c>set key bytes</c>).
/// </summary>
public static class TextCommandParser
{
    public const int MaxKeyLength = 250;

    public static void Parse(ReadOnlySpan<byte> line, out TextCommand command) => Parse(line, default, out command);

    /// <summary>
    /// As <see cref="Parse(ReadOnlySpan{byte}, out TextCommand)"/>, with room for a meta command's base64
    /// key to be decoded into (<see cref="MetaCommandParser.KeyScratchLength"/> bytes); without it, b keys are refused.
    /// </summary>
    public static void Parse(ReadOnlySpan<byte> line, Span<byte> keyScratch, out TextCommand command)
    {
        command = default;
        command.Tokens = new TextTokens(line);
        ref var tokens = ref command.Tokens;
        var name = tokens[0];

        // memcached: no command is shorter than two bytes, and an empty line is an error too.
        if (tokens.Count < 2 || name.Length < 2)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        var kind = Identify(name);
        switch (kind)
        {
            case TextCommandKind.Get:
                ParseRetrieval(ref command, TextCommandKind.Get);
                break;
            case TextCommandKind.Gets:
                ParseRetrieval(ref command, TextCommandKind.Gets);
                break;
            case TextCommandKind.Gat:
                ParseRetrieval(ref command, TextCommandKind.Gat);
                break;
            case TextCommandKind.Gats:
                ParseRetrieval(ref command, TextCommandKind.Gats);
                break;
            case TextCommandKind.Set:
                ParseStorage(ref command, TextCommandKind.Set);
                break;
            case TextCommandKind.Add:
                ParseStorage(ref command, TextCommandKind.Add);
                break;
            case TextCommandKind.Replace:
                ParseStorage(ref command, TextCommandKind.Replace);
                break;
            case TextCommandKind.Append:
                ParseStorage(ref command, TextCommandKind.Append);
                break;
            case TextCommandKind.Prepend:
                ParseStorage(ref command, TextCommandKind.Prepend);
                break;
            case TextCommandKind.Cas:
                ParseStorage(ref command, TextCommandKind.Cas);
                break;
            case TextCommandKind.Delete:
                ParseDelete(ref command);
                break;
            case TextCommandKind.Incr:
                ParseArithmetic(ref command, TextCommandKind.Incr);
                break;
            case TextCommandKind.Decr:
                ParseArithmetic(ref command, TextCommandKind.Decr);
                break;
            case TextCommandKind.Touch:
                ParseTouch(ref command);
                break;
            case TextCommandKind.FlushAll:
                ParseFlushAll(ref command);
                break;
            case TextCommandKind.Version:
                command.Kind = TextCommandKind.Version;
                break;
            case TextCommandKind.Quit:
                command.Kind = TextCommandKind.Quit;
                break;
            case TextCommandKind.Verbosity:
                ParseNumericAdmin(ref command, TextCommandKind.Verbosity, TextReplies.BadCommandLineFormat);
                break;
            case TextCommandKind.Stats:
                command.Kind = TextCommandKind.Stats;
                break;
            case TextCommandKind.CacheMemlimit:
                ParseNumericAdmin(ref command, TextCommandKind.CacheMemlimit, TextReplies.Error);
                break;
            case TextCommandKind.Shutdown:
                command.Kind = TextCommandKind.Shutdown;
                break;
            case TextCommandKind.Compact:
                command.Kind = TextCommandKind.Compact;
                break;
            case TextCommandKind.LruCrawlerDump:
                // Only the two dumps; memcached's other lru_crawler subcommands steer a crawler Cairn does not have.
                if (tokens.Count != 4 || !(tokens[1].SequenceEqual("metadump"u8) || tokens[1].SequenceEqual("mgdump"u8)))
                {
                    command.Refuse(TextReplies.Error);
                    break;
                }

                command.Kind = kind;
                break;
            case TextCommandKind.Replicate or TextCommandKind.ReplicaOf:
                // Both take two arguments (replicate a third: the replica's node id); what they mean is checked where they run.
                if (tokens.Count != 4 && !(kind == TextCommandKind.Replicate && tokens.Count == 5))
                {
                    command.Refuse(TextReplies.Error);
                    break;
                }

                command.Kind = kind;
                break;
            case TextCommandKind.MetaGet:
            case TextCommandKind.MetaSet:
            case TextCommandKind.MetaDelete:
            case TextCommandKind.MetaArithmetic:
            case TextCommandKind.MetaNoOp:
            case TextCommandKind.MetaDebug:
                MetaCommandParser.Parse(ref command, kind, keyScratch);
                break;
            default:
                command.Refuse(TextReplies.Error);
                break;
        }
    }

    /// <summary>A key as memcached accepts it, minus control characters, which Cairn refuses.</summary>
    public static bool IsValidKey(ReadOnlySpan<byte> key)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            return false;
        }

        foreach (var b in key)
        {
            if (b < 0x21 || b == 0x7f)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// An HTTP request line ("POST /x HTTP/1.1"): memcached hangs up on an unknown command whose last token starts
    /// with HTTP/, so a web page cannot make a browser run commands. Cairn's case-insensitive names would let "GET"
    /// or "SET" through, so a name that is not memcached's own lower-case word counts as unknown here.
    /// </summary>
    public static bool IsHttpRequestLine(ReadOnlySpan<byte> line)
    {
        line = line.TrimEnd((byte)' ');
        int lastSpace = line.LastIndexOf((byte)' ');
        if (lastSpace <= 0 || !line[(lastSpace + 1)..].StartsWith("HTTP/"u8))
        {
            return false;
        }

        var name = line[..line.IndexOf((byte)' ')];
        return Identify(name) == TextCommandKind.Invalid || name.ContainsAnyInRange((byte)'A', (byte)'Z');
    }

    private static TextCommandKind Identify(ReadOnlySpan<byte> name)
    {
        // Ascii.EqualsIgnoreCase keeps the documented case-insensitive extension allocation-free.
        switch (name.Length)
        {
            case 2:
                return MetaCommandParser.Identify(name);
            case 3:
                if (Ascii.EqualsIgnoreCase(name, "get"u8)) { return TextCommandKind.Get; }
                if (Ascii.EqualsIgnoreCase(name, "set"u8)) { return TextCommandKind.Set; }
                if (Ascii.EqualsIgnoreCase(name, "gat"u8)) { return TextCommandKind.Gat; }
                if (Ascii.EqualsIgnoreCase(name, "add"u8)) { return TextCommandKind.Add; }
                if (Ascii.EqualsIgnoreCase(name, "cas"u8)) { return TextCommandKind.Cas; }
                break;
            case 4:
                if (Ascii.EqualsIgnoreCase(name, "gets"u8)) { return TextCommandKind.Gets; }
                if (Ascii.EqualsIgnoreCase(name, "gats"u8)) { return TextCommandKind.Gats; }
                if (Ascii.EqualsIgnoreCase(name, "incr"u8)) { return TextCommandKind.Incr; }
                if (Ascii.EqualsIgnoreCase(name, "decr"u8)) { return TextCommandKind.Decr; }
                if (Ascii.EqualsIgnoreCase(name, "quit"u8)) { return TextCommandKind.Quit; }
                if (Ascii.EqualsIgnoreCase(name, "bget"u8)) { return TextCommandKind.Get; }
                break;
            case 5:
                if (Ascii.EqualsIgnoreCase(name, "touch"u8)) { return TextCommandKind.Touch; }
                if (Ascii.EqualsIgnoreCase(name, "stats"u8)) { return TextCommandKind.Stats; }
                break;
            case 6:
                if (Ascii.EqualsIgnoreCase(name, "delete"u8)) { return TextCommandKind.Delete; }
                if (Ascii.EqualsIgnoreCase(name, "append"u8)) { return TextCommandKind.Append; }
                break;
            case 7:
                if (Ascii.EqualsIgnoreCase(name, "replace"u8)) { return TextCommandKind.Replace; }
                if (Ascii.EqualsIgnoreCase(name, "prepend"u8)) { return TextCommandKind.Prepend; }
                if (Ascii.EqualsIgnoreCase(name, "version"u8)) { return TextCommandKind.Version; }
                if (Ascii.EqualsIgnoreCase(name, "compact"u8)) { return TextCommandKind.Compact; }
                break;
            case 8:
                if (Ascii.EqualsIgnoreCase(name, "shutdown"u8)) { return TextCommandKind.Shutdown; }
                break;
            case 9:
                if (Ascii.EqualsIgnoreCase(name, "flush_all"u8)) { return TextCommandKind.FlushAll; }
                if (Ascii.EqualsIgnoreCase(name, "verbosity"u8)) { return TextCommandKind.Verbosity; }
                if (Ascii.EqualsIgnoreCase(name, "replicate"u8)) { return TextCommandKind.Replicate; }
                if (Ascii.EqualsIgnoreCase(name, "replicaof"u8)) { return TextCommandKind.ReplicaOf; }
                break;
            case 11:
                if (Ascii.EqualsIgnoreCase(name, "lru_crawler"u8)) { return TextCommandKind.LruCrawlerDump; }
                break;
            case 14:
                if (Ascii.EqualsIgnoreCase(name, "cache_memlimit"u8)) { return TextCommandKind.CacheMemlimit; }
                break;
        }

        return TextCommandKind.Invalid;
    }

    private static void SetNoReplyMaybe(ref TextCommand command)
    {
        // memcached looks only at the last real token, and only for the exact lower-case word.
        command.NoReply = command.Tokens[command.Tokens.RealCount - 1].SequenceEqual("noreply"u8);
    }

    private static void ParseRetrieval(ref TextCommand command, TextCommandKind kind)
    {
        ref var tokens = ref command.Tokens;
        if (tokens.Count < 3)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        var firstKey = 1;
        if (kind is TextCommandKind.Gat or TextCommandKind.Gats)
        {
            if (!AsciiNumber.TryParseInt32(tokens[1], out command.Exptime))
            {
                command.Refuse(TextReplies.InvalidExptime);
                return;
            }

            firstKey = 2;
        }

        command.Kind = kind;
        command.Keys = firstKey < tokens.RealCount ? tokens.Line[tokens.StartOf(firstKey)..] : default;
    }

    private static void ParseStorage(ref TextCommand command, TextCommandKind kind)
    {
        ref var tokens = ref command.Tokens;
        var count = tokens.Count;
        var withCas = kind == TextCommandKind.Cas;
        var fullCount = withCas ? 7 : 6;

        // Cairn extension for hand-typed sessions: "set key bytes [noreply]" means flags 0, no expiry.
        var shortForm = kind == TextCommandKind.Set && (count == 4 || (count == 5 && tokens[3].SequenceEqual("noreply"u8)));
        if (!shortForm && count != fullCount && count != fullCount + 1)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        SetNoReplyMaybe(ref command);
        var bytesToken = shortForm ? tokens[2] : tokens[4];

        // Whatever else is wrong with the line, a parseable length means a data block follows; skipping it
        // keeps the client's data from being executed as commands.
        if (AsciiNumber.TryParseInt32(bytesToken, out var announced) && announced >= 0 && announced <= int.MaxValue - 2)
        {
            command.SwallowLength = announced + 2;
        }

        command.Key = tokens[1];
        if (!IsValidKey(command.Key))
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        if (!shortForm)
        {
            if (!AsciiNumber.TryParseUInt32(tokens[2], out command.Flags)
                || !AsciiNumber.TryParseInt32(tokens[3], out command.Exptime))
            {
                command.Refuse(TextReplies.BadCommandLineFormat);
                return;
            }
        }

        if (!AsciiNumber.TryParseInt32(bytesToken, out command.ByteCount))
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        if (withCas && !AsciiNumber.TryParseUInt64(tokens[5], out command.CasUnique))
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        if (command.ByteCount < 0 || command.ByteCount > int.MaxValue - 2)
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        command.Kind = kind;
        command.SwallowLength = 0;
        command.BareNewlineEndsData = shortForm;
    }

    private static void ParseDelete(ref TextCommand command)
    {
        ref var tokens = ref command.Tokens;
        var count = tokens.Count;
        if (count < 3 || count > 5)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        if (count > 3)
        {
            // The legacy "delete <key> 0" form; any other hold time is refused, as in memcached.
            var holdIsZero = tokens[2].SequenceEqual("0"u8);
            SetNoReplyMaybe(ref command);
            var valid = (count == 4 && (holdIsZero || command.NoReply)) || (count == 5 && holdIsZero && command.NoReply);
            if (!valid)
            {
                command.Refuse(TextReplies.DeleteUsage);
                return;
            }
        }

        command.Key = tokens[1];
        if (!IsValidKey(command.Key))
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        command.Kind = TextCommandKind.Delete;
    }

    private static void ParseArithmetic(ref TextCommand command, TextCommandKind kind)
    {
        if (ParseKeyAndArgument(ref command, out var argument))
        {
            if (!AsciiNumber.TryParseUInt64(argument, out command.Delta))
            {
                command.Refuse(TextReplies.InvalidDelta);
                return;
            }

            command.Kind = kind;
        }
    }

    private static void ParseTouch(ref TextCommand command)
    {
        if (ParseKeyAndArgument(ref command, out var argument))
        {
            if (!AsciiNumber.TryParseInt32(argument, out command.Exptime))
            {
                command.Refuse(TextReplies.InvalidExptime);
                return;
            }

            command.Kind = TextCommandKind.Touch;
        }
    }

    /// <summary>The shape incr, decr and touch share: "name key argument [noreply]".</summary>
    private static bool ParseKeyAndArgument(ref TextCommand command, out ReadOnlySpan<byte> argument)
    {
        ref var tokens = ref command.Tokens;
        argument = default;
        if (tokens.Count != 4 && tokens.Count != 5)
        {
            command.Refuse(TextReplies.Error);
            return false;
        }

        SetNoReplyMaybe(ref command);
        command.Key = tokens[1];
        if (!IsValidKey(command.Key))
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return false;
        }

        argument = tokens[2];
        return true;
    }

    private static void ParseFlushAll(ref TextCommand command)
    {
        ref var tokens = ref command.Tokens;
        if (tokens.Count < 2 || tokens.Count > 4)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        SetNoReplyMaybe(ref command);
        if (tokens.Count != (command.NoReply ? 3 : 2))
        {
            if (!AsciiNumber.TryParseInt32(tokens[1], out command.Exptime))
            {
                command.Refuse(TextReplies.InvalidExptime);
                return;
            }

            command.HasArgument = true;
        }

        command.Kind = TextCommandKind.FlushAll;
    }

    /// <summary>
    /// "verbosity N [noreply]" and "cache_memlimit N [noreply]": one unsigned argument; memcached refuses a bad
    /// one with different words for each.
    /// </summary>
    private static void ParseNumericAdmin(ref TextCommand command, TextCommandKind kind, ReadOnlySpan<byte> badArgumentReply)
    {
        ref var tokens = ref command.Tokens;
        if (tokens.Count != 3 && tokens.Count != 4)
        {
            command.Refuse(TextReplies.Error);
            return;
        }

        SetNoReplyMaybe(ref command);
        if (!AsciiNumber.TryParseUInt32(tokens[1], out command.NumericArgument))
        {
            command.Refuse(badArgumentReply);
            return;
        }

        command.HasArgument = true;
        command.Kind = kind;
    }
}
