using System.Runtime.CompilerServices;

namespace Cairn.Protocol.Text;

/// <summary>
/// The tokens of one command line, split on single spaces exactly as memcached's tokenize_command does:
/// runs of spaces separate, tabs do not, and after <see cref="MaxTokens"/> tokens the rest of the line is
/// left unsplit. <see cref="Count"/> follows memcached's convention of counting a terminal empty token,
/// so the token-count checks read the same as memcached's (set takes 6 or 7).
/// </summary>
public ref struct TextTokens
{
    /// <summary>memcached's MAX_TOKENS minus the terminal token.</summary>
    public const int MaxTokens = 23;

    private TokenRanges _ranges;
    private readonly ReadOnlySpan<byte> _line;

    public TextTokens(ReadOnlySpan<byte> line)
    {
        _line = line;
        var count = 0;
        var start = 0;
        var i = 0;
        for (; i < line.Length; i++)
        {
            if (line[i] != (byte)' ')
            {
                continue;
            }

            if (i != start)
            {
                _ranges[count++] = new TokenRange(start, i - start);
                if (count == MaxTokens)
                {
                    i++;
                    start = i;
                    break;
                }
            }

            start = i + 1;
        }

        if (count < MaxTokens && start < line.Length)
        {
            _ranges[count++] = new TokenRange(start, line.Length - start);
            start = line.Length;
        }

        RealCount = count;
        RemainderStart = Math.Min(start, line.Length);
    }

    /// <summary>Tokens found, not counting memcached's terminal token.</summary>
    public int RealCount { get; }

    /// <summary>memcached's ntokens: the real tokens plus the terminal one.</summary>
    public readonly int Count => RealCount + 1;

    /// <summary>Where the unsplit rest of the line begins when the line had more than <see cref="MaxTokens"/> tokens.</summary>
    public int RemainderStart { get; }

    public readonly bool HasRemainder => RemainderStart < _line.Length;

    public readonly ReadOnlySpan<byte> Line => _line;

    public readonly ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)RealCount)
            {
                return default;
            }

            var range = _ranges[index];
            return _line.Slice(range.Start, range.Length);
        }
    }

    /// <summary>The offset of token <paramref name="index"/> within the line.</summary>
    public readonly int StartOf(int index) => _ranges[index].Start;

    private readonly record struct TokenRange(int Start, int Length);

    [InlineArray(MaxTokens)]
    private struct TokenRanges
    {
        private TokenRange _element;
    }
}
