using Cairn.Protocol.Binary;
using static Cairn.Tests.Binary.BinaryFrames;

namespace Cairn.Tests.Binary;

/// <summary>A pipelined binary batch gives the same replies however the bytes are split.</summary>
public class BinarySplitInputTests
{
    private static readonly byte[] Batch = Concat(
        Request(BinaryOpcode.SetQ, "alpha", StoreExtras(7), "first value", opaque: 1),
        Request(BinaryOpcode.Set, "beta", StoreExtras(0), "2", opaque: 2),
        Request(BinaryOpcode.AppendQ, "alpha", value: "!", opaque: 3),
        Request(BinaryOpcode.GetQ, "missing", opaque: 4),
        Request(BinaryOpcode.GetKQ, "alpha", opaque: 5),
        Request(BinaryOpcode.Increment, "beta", DeltaExtras(40, 0, 0), opaque: 6),
        Request(BinaryOpcode.AddQ, "beta", StoreExtras(0), "x", opaque: 7),
        Request(BinaryOpcode.SaslListMechs, opaque: 8),
        Request(BinaryOpcode.Touch, "alpha", UInt32(100), opaque: 9),
        Request(BinaryOpcode.DeleteQ, "beta", opaque: 10),
        Request(BinaryOpcode.Get, "beta", opaque: 11),
        Request(BinaryOpcode.Noop, opaque: 12));

    private static byte[] Run(IEnumerable<byte[]> chunks)
    {
        using var driver = SessionDriverFor.Binary();
        foreach (var chunk in chunks)
        {
            driver.Feed(chunk);
        }

        Assert.False(driver.Closed);
        return driver.Output();
    }

    [Fact]
    public void Whole_batch_answers_only_what_quiet_requests_must()
    {
        var output = Run([Batch]);
        var opcodes = new List<(byte Opcode, ushort Status, uint Opaque)>();
        for (var at = 0; at < output.Length;)
        {
            var body = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 8));
            opcodes.Add((output[at + 1], System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(output.AsSpan(at + 6)), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(output.AsSpan(at + 12))));
            at += 24 + body;
        }

        Assert.Equal(
            [(0x01, 0, 2u), (0x0d, 0, 5u), (0x05, 0, 6u), (0x12, 2, 7u), (0x20, 0x81, 8u), (0x1c, 0, 9u), (0x00, 1, 11u), (0x0a, 0, 12u)],
            opcodes);
    }

    [Fact]
    public void Every_split_point_gives_the_same_replies()
    {
        var expected = Run([Batch]);
        for (var split = 1; split < Batch.Length; split++)
        {
            var actual = Run([Batch[..split], Batch[split..]]);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"split at {split}");
        }
    }

    [Fact]
    public void Byte_at_a_time_gives_the_same_replies()
    {
        var expected = Run([Batch]);
        Assert.Equal(expected, Run(Batch.Select(b => new[] { b })));
    }

    [Fact]
    public void Split_inside_a_swallowed_too_large_value_stays_in_sync()
    {
        var input = Concat(
            Request(BinaryOpcode.Set, "k", StoreExtras(0), new string('x', 2000)),
            Request(BinaryOpcode.Noop, opaque: 1));
        var expected = Concat(Error(BinaryOpcode.Set, 0x03), Response(BinaryOpcode.Noop, opaque: 1));
        for (var split = 1; split < input.Length; split += 37)
        {
            using var driver = SessionDriverFor.Binary(options => options.MaxItemSize = 1024);
            driver.Feed(input.AsSpan(0, split));
            driver.Feed(input.AsSpan(split));
            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(driver.Output()));
        }
    }
}
