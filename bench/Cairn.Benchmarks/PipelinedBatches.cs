using System.Text;

namespace Cairn.Benchmarks;

/// <summary>The pre-encoded text batches the session and engine benchmarks send: one set or get per key, 100-byte values.</summary>
internal static class PipelinedBatches
{
    public const int ValueLength = 100;

    public static readonly string Value = new('v', ValueLength);

    public static string Key(int index) => $"key:{index:D8}";

    public static byte[] Sets(int count) => Encode(count, i => $"set {Key(i)} 0 0 {ValueLength}\r\n{Value}\r\n");

    public static byte[] Gets(int count) => Encode(count, i => $"get {Key(i)}\r\n");

    private static byte[] Encode(int count, Func<int, string> request)
    {
        var batch = new StringBuilder();
        for (var i = 0; i < count; i++)
        {
            batch.Append(request(i));
        }

        return Encoding.ASCII.GetBytes(batch.ToString());
    }
}
