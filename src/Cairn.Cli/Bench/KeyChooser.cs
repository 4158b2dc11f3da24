namespace Cairn.Cli.Bench;

/// <summary>Picks key indexes uniformly or by a Zipf law; immutable, so one instance serves every connection.</summary>
internal sealed class KeyChooser
{
    // YCSB's skew: the hottest 1% of keys draw a large share of requests without one key taking everything.
    private const double ZipfExponent = 0.99;

    private readonly int _keys;
    private readonly double[]? _cumulative;

    public KeyChooser(int keys, KeyPattern pattern)
    {
        _keys = keys;
        if (pattern == KeyPattern.Zipf)
        {
            _cumulative = new double[keys];
            var sum = 0.0;
            for (var i = 0; i < keys; i++)
            {
                sum += 1.0 / Math.Pow(i + 1, ZipfExponent);
                _cumulative[i] = sum;
            }

            for (var i = 0; i < keys; i++)
            {
                _cumulative[i] /= sum;
            }
        }
    }

    public int Next(Random random)
    {
        if (_cumulative is null)
        {
            return random.Next(_keys);
        }

        var index = Array.BinarySearch(_cumulative, random.NextDouble());
        return Math.Min(_keys - 1, index >= 0 ? index : ~index);
    }
}
