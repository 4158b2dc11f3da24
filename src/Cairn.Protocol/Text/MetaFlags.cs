namespace Cairn.Protocol.Text;

/// <summary>
/// A meta command's flags: single characters, some with a token argument ("T30", "Oabc"). Which were
/// given is a bit set; the raw tokens are kept so returned flags can follow the request's order.
/// </summary>
public ref struct MetaFlags
{
    /// <summary>The flag tokens as sent (from the first flag to the end of the line).</summary>
    public ReadOnlySpan<byte> Tokens;

    public ulong Seen;
    public ReadOnlySpan<byte> Opaque;
    public uint ClientFlags;

    /// <summary>T: new TTL (exptime rules).</summary>
    public int Ttl;

    /// <summary>N: vivify on miss with this TTL.</summary>
    public int VivifyTtl;

    /// <summary>R: win the recache when less TTL than this remains.</summary>
    public int RecacheTtl;

    public ulong CompareCas;
    public ulong NewCas;
    public ulong Delta;
    public ulong Initial;

    /// <summary>M: the mode character, 0 when not given.</summary>
    public byte Mode;

    public readonly bool Has(char flag) => (Seen & Bit((byte)flag)) != 0;

    public readonly bool Quiet => Has('q');

    public readonly bool Base64Key => Has('b');

    /// <summary>A bit per flag letter: A-Z then a-z.</summary>
    public static ulong Bit(byte flag) => flag >= (byte)'a' ? 1UL << (flag - 'a' + 26) : 1UL << (flag - 'A');
}
