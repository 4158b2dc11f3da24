using System.Buffers;
using System.Buffers.Text;

namespace Cairn.Protocol.Text;

/// <summary>
/// Parses meta command lines (mg ms md ma mn me) the way memcached's _meta_flag_preparse and the
/// process_m*_command functions do, with their error words. md and ma answer every flag error with
/// "invalid or duplicate flag", as memcached does (it ignores the preparse's own message there).
/// </summary>
public static class MetaCommandParser
{
    /// <summary>Room for a decoded base64 key.</summary>
    public const int KeyScratchLength = TextCommandParser.MaxKeyLength;

    /// <summary>The spec: opaque tokens may be up to 32 bytes (memcached 1.6.18 stops at 31).</summary>
    public const int MaxOpaqueLength = 32;

    private const string KnownFlags = "bcCDEfFhIJkLlMNOPqRstTuvx";

    public static ReadOnlySpan<byte> InvalidFlag => "CLIENT_ERROR invalid flag\r\n"u8;
    public static ReadOnlySpan<byte> DuplicateFlag => "CLIENT_ERROR duplicate flag\r\n"u8;
    public static ReadOnlySpan<byte> InvalidOrDuplicateFlag => "CLIENT_ERROR invalid or duplicate flag\r\n"u8;
    public static ReadOnlySpan<byte> BadToken => "CLIENT_ERROR bad token in command line format\r\n"u8;
    public static ReadOnlySpan<byte> OpaqueTooLong => "CLIENT_ERROR opaque token too long\r\n"u8;
    public static ReadOnlySpan<byte> ErrorDecodingKey => "CLIENT_ERROR error decoding key\r\n"u8;
    public static ReadOnlySpan<byte> InvalidSetMode => "CLIENT_ERROR invalid mode for ms M token\r\n"u8;
    public static ReadOnlySpan<byte> InvalidArithmeticMode => "CLIENT_ERROR invalid mode for ma M token\r\n"u8;
    public static ReadOnlySpan<byte> IncorrectModeLength => "CLIENT_ERROR incorrect length for M token\r\n"u8;
    public static ReadOnlySpan<byte> InvalidDelta => "CLIENT_ERROR invalid numeric delta value\r\n"u8;
    public static ReadOnlySpan<byte> InvalidInitial => "CLIENT_ERROR invalid numeric initial value\r\n"u8;

    public static TextCommandKind Identify(ReadOnlySpan<byte> name)
    {
        if (name.Length != 2 || (name[0] | 0x20) != (byte)'m')
        {
            return TextCommandKind.Invalid;
        }

        return (name[1] | 0x20) switch
        {
            'g' => TextCommandKind.MetaGet,
            's' => TextCommandKind.MetaSet,
            'd' => TextCommandKind.MetaDelete,
            'a' => TextCommandKind.MetaArithmetic,
            'n' => TextCommandKind.MetaNoOp,
            'e' => TextCommandKind.MetaDebug,
            _ => TextCommandKind.Invalid,
        };
    }

    public static void Parse(ref TextCommand command, TextCommandKind kind, Span<byte> keyScratch)
    {
        ref var tokens = ref command.Tokens;
        if (kind == TextCommandKind.MetaNoOp)
        {
            // mn takes nothing and ignores whatever follows, as memcached does.
            command.Kind = kind;
            return;
        }

        if (tokens.RealCount < 2)
        {
            command.Refuse(kind == TextCommandKind.MetaDebug ? TextReplies.BadCommandLineFormat : TextReplies.Error);
            return;
        }

        var firstFlag = 2;
        if (kind == TextCommandKind.MetaSet)
        {
            if (tokens.RealCount < 3 || !AsciiNumber.TryParseInt32(tokens[2], out command.ByteCount)
                || command.ByteCount < 0 || command.ByteCount > int.MaxValue - 2)
            {
                command.Refuse(TextReplies.BadCommandLineFormat);
                return;
            }

            // From here on a refusal still skips the data block: it is never read as commands.
            command.SwallowLength = command.ByteCount + 2;
            firstFlag = 3;
        }

        var rawKey = tokens[1];
        if (rawKey.Length > TextCommandParser.MaxKeyLength)
        {
            command.Refuse(TextReplies.BadCommandLineFormat);
            return;
        }

        ref var meta = ref command.Meta;
        meta.Delta = 1;
        meta.Tokens = tokens.RealCount > firstFlag ? tokens.Line[tokens.StartOf(firstFlag)..] : default;
        var perCommandErrors = kind is TextCommandKind.MetaDelete or TextCommandKind.MetaArithmetic;
        if (kind == TextCommandKind.MetaDebug)
        {
            // me only knows b; anything else after the key is ignored.
            foreach (var token in new KeyEnumerator(meta.Tokens))
            {
                if (token.Length == 1 && token[0] == (byte)'b')
                {
                    meta.Seen |= MetaFlags.Bit((byte)'b');
                }
            }
        }
        else
        {
            var error = ParseFlags(ref meta);
            if (error != FlagError.None)
            {
                // md and ma word every flag error alike, except an opaque that is too long (memcached 1.6.18 and 1.6.45).
                command.Refuse(error == FlagError.OpaqueTooLong ? OpaqueTooLong : perCommandErrors ? InvalidOrDuplicateFlag : error switch
                {
                    FlagError.Invalid => InvalidFlag,
                    FlagError.Duplicate => DuplicateFlag,
                    FlagError.BadClientFlags => TextReplies.BadCommandLineFormat,
                    FlagError.BadDelta => InvalidDelta,
                    FlagError.BadInitial => InvalidInitial,
                    _ => BadToken,
                });
                return;
            }

            if (meta.Has('M') && meta.Mode == 0 && kind is TextCommandKind.MetaSet or TextCommandKind.MetaArithmetic)
            {
                // A mode is one character: memcached refuses "M" alone or "MEE" before looking at the letter.
                command.Refuse(kind == TextCommandKind.MetaSet ? IncorrectModeLength : InvalidOrDuplicateFlag);
                return;
            }

            if (!ModeIsValid(kind, meta.Mode, meta.Has('M')))
            {
                command.Refuse(kind == TextCommandKind.MetaSet ? InvalidSetMode : InvalidArithmeticMode);
                return;
            }
        }

        if (meta.Base64Key)
        {
            var status = Base64.DecodeFromUtf8(rawKey, keyScratch, out var consumed, out var written);
            if (status != OperationStatus.Done || consumed != rawKey.Length || written == 0)
            {
                command.Refuse(kind == TextCommandKind.MetaDebug ? TextReplies.BadCommandLineFormat
                    : perCommandErrors ? InvalidOrDuplicateFlag : ErrorDecodingKey);
                return;
            }

            // Binary keys may hold any byte: only the length rule applies.
            command.Key = keyScratch[..written];
        }
        else
        {
            if (!TextCommandParser.IsValidKey(rawKey))
            {
                command.Refuse(TextReplies.BadCommandLineFormat);
                return;
            }

            command.Key = rawKey;
        }

        command.Kind = kind;
        command.SwallowLength = 0;
    }

    private enum FlagError
    {
        None,
        Invalid,
        Duplicate,
        OpaqueTooLong,
        BadToken,
        BadClientFlags,
        BadDelta,
        BadInitial,
    }

    private static FlagError ParseFlags(ref MetaFlags meta)
    {
        foreach (var token in new KeyEnumerator(meta.Tokens))
        {
            var flag = token[0];
            if (!IsKnown(flag))
            {
                return FlagError.Invalid;
            }

            var bit = MetaFlags.Bit(flag);
            if ((meta.Seen & bit) != 0)
            {
                return FlagError.Duplicate;
            }

            meta.Seen |= bit;
            var argument = token[1..];
            var ok = true;
            switch (flag)
            {
                case (byte)'O':
                    if (argument.Length > MaxOpaqueLength)
                    {
                        return FlagError.OpaqueTooLong;
                    }

                    meta.Opaque = argument;
                    break;
                case (byte)'T':
                    ok = AsciiNumber.TryParseInt32(argument, out meta.Ttl);
                    break;
                case (byte)'N':
                    ok = AsciiNumber.TryParseInt32(argument, out meta.VivifyTtl);
                    break;
                case (byte)'R':
                    ok = AsciiNumber.TryParseInt32(argument, out meta.RecacheTtl);
                    break;
                case (byte)'C':
                    ok = AsciiNumber.TryParseUInt64(argument, out meta.CompareCas);
                    break;
                case (byte)'E':
                    ok = AsciiNumber.TryParseUInt64(argument, out meta.NewCas);
                    break;
                case (byte)'D':
                    if (!AsciiNumber.TryParseUInt64(argument, out meta.Delta))
                    {
                        return FlagError.BadDelta;
                    }

                    break;
                case (byte)'J':
                    if (!AsciiNumber.TryParseUInt64(argument, out meta.Initial))
                    {
                        return FlagError.BadInitial;
                    }

                    break;
                case (byte)'F':
                    // memcached words a bad client flags token like a bad classic command line.
                    if (!AsciiNumber.TryParseUInt32(argument, out meta.ClientFlags))
                    {
                        return FlagError.BadClientFlags;
                    }

                    break;
                case (byte)'M':
                    meta.Mode = argument.Length == 1 ? argument[0] : (byte)0;
                    break;
                default:
                    break;
            }

            if (!ok)
            {
                return FlagError.BadToken;
            }
        }

        return FlagError.None;
    }

    private static bool ModeIsValid(TextCommandKind kind, byte mode, bool given) => kind switch
    {
        TextCommandKind.MetaSet => !given || mode is (byte)'E' or (byte)'A' or (byte)'P' or (byte)'R' or (byte)'S',
        TextCommandKind.MetaArithmetic => !given || mode is (byte)'I' or (byte)'+' or (byte)'D' or (byte)'-',
        _ => true,
    };

    private static bool IsKnown(byte flag) => flag < 0x80 && KnownFlags.Contains((char)flag, StringComparison.Ordinal);

    /// <summary>The key as a returned k flag shows it: base64 again when it came as base64.</summary>
    public static int EncodeKey(ReadOnlySpan<byte> key, Span<byte> destination)
    {
        Base64.EncodeToUtf8(key, destination, out _, out var written);
        return written;
    }

    /// <summary>Bytes <see cref="EncodeKey"/> needs.</summary>
    public static int EncodedKeyLength(int keyLength) => Base64.GetMaxEncodedToUtf8Length(keyLength);
}
