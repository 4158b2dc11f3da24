using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using Cairn.Protocol.Binary;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// The binary protocol's item commands once framed and admitted (get/getk/gat and their quiet forms, touch, the
/// stores, delete, incr/decr): the store's operation, its counters and memcached's response frame. The session owns
/// framing, SASL, the write gate and the connection.
/// </summary>
public sealed class BinaryItemCommandExecutor(ServerContext context, CounterSet counters)
{
    /// <summary>incr/decr's expiration that means "do not create a missing counter".</summary>
    private const uint NoCreate = 0xffffffff;

    private readonly ServerContext _context = context;
    private readonly IItemStore _store = context.Store;
    private readonly byte[] _numberScratch = new byte[24];

    private CounterSet Counters { get; } = counters;

    public void Get(in BinaryHeader header, ReadOnlySpan<byte> key, bool touch, uint exptime, IBufferWriter<byte> output)
    {
        var opcode = header.Opcode;
        var withKey = opcode is BinaryOpcode.GetK or BinaryOpcode.GetKQ or BinaryOpcode.GatK or BinaryOpcode.GatKQ;
        var writer = new ItemWriter(output, opcode, header.Opaque, withKey);
        bool hit;
        if (touch)
        {
            hit = _store.TryGetAndTouch(key, ExpiryTime.ToAbsolute(exptime, _context.NowUnixSeconds), ref writer);
            Counters.Increment(Counter.CmdTouch);
            Counters.Increment(hit ? Counter.TouchHits : Counter.TouchMisses);
        }
        else
        {
            hit = _store.TryGet(key, ref writer);
            Counters.Increment(Counter.CmdGet);
            Counters.Increment(hit ? Counter.GetHits : Counter.GetMisses);
            _context.Prefixes.RecordGet(key, hit);
        }

        if (hit || opcode.IsQuiet())
        {
            return;
        }

        if (withKey)
        {
            // getk's miss carries the key instead of memcached's "Not found".
            BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.KeyNotFound, header.Opaque, key, default);
        }
        else
        {
            BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.KeyNotFound, header.Opaque);
        }
    }

    public void Touch(in BinaryHeader header, ReadOnlySpan<byte> key, uint exptime, IBufferWriter<byte> output)
    {
        var capture = default(ItemCapture);
        var hit = _store.TryGetAndTouch(key, ExpiryTime.ToAbsolute(exptime, _context.NowUnixSeconds), ref capture);
        Counters.Increment(Counter.CmdTouch);
        Counters.Increment(hit ? Counter.TouchHits : Counter.TouchMisses);
        if (!hit)
        {
            BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.KeyNotFound, header.Opaque);
            return;
        }

        // memcached answers touch with the item's flags and CAS, but not its value.
        Span<byte> flags = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(flags, capture.Flags);
        BinaryResponseWriter.Write(output, header.Opcode, BinaryStatus.NoError, header.Opaque, capture.Cas, flags, default, default);
    }

    public void Store(in BinaryHeader header, ReadOnlySpan<byte> extras, ReadOnlySpan<byte> key, ReadOnlySequence<byte> value, IBufferWriter<byte> output)
    {
        var opcode = header.Opcode;
        uint flags = 0;
        long expiresAt = 0;
        if (extras.Length == 8)
        {
            flags = BinaryPrimitives.ReadUInt32BigEndian(extras);
            expiresAt = ExpiryTime.ToAbsolute(BinaryPrimitives.ReadUInt32BigEndian(extras[4..]), _context.NowUnixSeconds);
        }

        var mode = opcode switch
        {
            BinaryOpcode.Set or BinaryOpcode.SetQ => header.Cas != 0 ? StoreMode.Cas : StoreMode.Set,
            // As memcached: any store carrying a CAS is a compare-and-swap, so an add of a missing key with one is not found.
            BinaryOpcode.Add or BinaryOpcode.AddQ => header.Cas != 0 ? StoreMode.Cas : StoreMode.Add,
            // A replace with a CAS is a compare-and-swap: it too needs the key to exist.
            BinaryOpcode.Replace or BinaryOpcode.ReplaceQ => header.Cas != 0 ? StoreMode.Cas : StoreMode.Replace,
            BinaryOpcode.Append or BinaryOpcode.AppendQ => StoreMode.Append,
            _ => StoreMode.Prepend,
        };

        Counters.Increment(Counter.CmdSet);
        _context.Prefixes.RecordSet(key);
        StoreResult result;
        ulong cas = 0;
        if (mode is StoreMode.Append or StoreMode.Prepend && header.Cas != 0)
        {
            // Compared and appended under the key's lock in one step, so no other write can slip between them.
            result = _store.MetaStore(mode, key, value, flags, expiresAt, new MetaStoreOptions { HasCompareCas = true, CompareCas = header.Cas }, out cas, out _);
        }
        else
        {
            result = _store.Store(mode, key, value, flags, expiresAt, header.Cas, out cas);
        }

        if (mode == StoreMode.Cas)
        {
            Counters.Increment(result switch
            {
                StoreResult.Stored => Counter.CasHits,
                StoreResult.Exists => Counter.CasBadval,
                _ => Counter.CasMisses,
            });
        }

        var status = result switch
        {
            StoreResult.Stored => BinaryStatus.NoError,
            StoreResult.NotStored when mode == StoreMode.Add => BinaryStatus.KeyExists,
            StoreResult.NotStored when mode == StoreMode.Replace => BinaryStatus.KeyNotFound,
            StoreResult.NotStored => BinaryStatus.ItemNotStored,
            StoreResult.Exists => BinaryStatus.KeyExists,
            StoreResult.NotFound => BinaryStatus.KeyNotFound,
            StoreResult.TooLarge when mode is StoreMode.Append or StoreMode.Prepend => BinaryStatus.ItemNotStored,
            StoreResult.TooLarge => BinaryStatus.ValueTooLarge,
            _ => BinaryStatus.OutOfMemory,
        };

        if (result == StoreResult.TooLarge)
        {
            Counters.Increment(Counter.StoreTooLarge);
        }

        if (status != BinaryStatus.NoError)
        {
            BinaryResponseWriter.WriteError(output, opcode, status, header.Opaque);
        }
        else if (!opcode.IsQuiet())
        {
            BinaryResponseWriter.WriteEmpty(output, opcode, header.Opaque, cas);
        }
    }

    public void Delete(in BinaryHeader header, ReadOnlySpan<byte> key, IBufferWriter<byte> output)
    {
        if (header.Cas != 0)
        {
            // A delete with a CAS compares and deletes under the key's lock in one step.
            var status = _store.MetaDelete(key, new MetaDeleteOptions { HasCompareCas = true, CompareCas = header.Cas });
            if (status != MetaStatus.Ok)
            {
                Counters.Increment(Counter.DeleteMisses);
                BinaryResponseWriter.WriteError(output, header.Opcode, status == MetaStatus.Exists ? BinaryStatus.KeyExists : BinaryStatus.KeyNotFound, header.Opaque);
                return;
            }

            Counters.Increment(Counter.DeleteHits);
            if (!header.Opcode.IsQuiet())
            {
                BinaryResponseWriter.WriteEmpty(output, header.Opcode, header.Opaque);
            }

            return;
        }

        var deleted = _store.Delete(key) == DeleteResult.Deleted;
        Counters.Increment(deleted ? Counter.DeleteHits : Counter.DeleteMisses);
        _context.Prefixes.RecordDelete(key);
        if (!deleted)
        {
            BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.KeyNotFound, header.Opaque);
        }
        else if (!header.Opcode.IsQuiet())
        {
            BinaryResponseWriter.WriteEmpty(output, header.Opcode, header.Opaque);
        }
    }

    public void Arithmetic(in BinaryHeader header, ReadOnlySpan<byte> extras, ReadOnlySpan<byte> key, IBufferWriter<byte> output)
    {
        var opcode = header.Opcode;
        var increment = opcode is BinaryOpcode.Increment or BinaryOpcode.IncrementQ;
        var delta = BinaryPrimitives.ReadUInt64BigEndian(extras);
        var initial = BinaryPrimitives.ReadUInt64BigEndian(extras[8..]);
        var exptime = BinaryPrimitives.ReadUInt32BigEndian(extras[16..]);

        // Twice at most: a counter created by another connection between our miss and our add is then incremented.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var result = _store.ApplyDelta(key, increment, delta, out var value);
            switch (result)
            {
                case ArithmeticResult.Ok:
                    Counters.Increment(increment ? Counter.IncrHits : Counter.DecrHits);
                    if (!opcode.IsQuiet())
                    {
                        var capture = default(ItemCapture);
                        _store.TryGet(key, ref capture);
                        BinaryResponseWriter.WriteCounter(output, opcode, header.Opaque, capture.Cas, value);
                    }

                    return;
                case ArithmeticResult.NonNumeric:
                    BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.NonNumeric, header.Opaque);
                    return;
                case ArithmeticResult.OutOfMemory:
                    BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.OutOfMemory, header.Opaque);
                    return;
            }

            if (attempt == 0)
            {
                Counters.Increment(increment ? Counter.IncrMisses : Counter.DecrMisses);
            }

            if (exptime == NoCreate)
            {
                BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.KeyNotFound, header.Opaque);
                return;
            }

            // A miss creates the counter with the initial value, stored as its decimal text like any counter.
            Utf8Formatter.TryFormat(initial, _numberScratch, out var digits);
            var text = new ReadOnlySequence<byte>(_numberScratch, 0, digits);
            var stored = _store.Store(StoreMode.Add, key, text, 0, ExpiryTime.ToAbsolute(exptime, _context.NowUnixSeconds), 0, out var cas);
            if (stored == StoreResult.Stored)
            {
                if (!opcode.IsQuiet())
                {
                    BinaryResponseWriter.WriteCounter(output, opcode, header.Opaque, cas, initial);
                }

                return;
            }

            if (stored != StoreResult.NotStored)
            {
                BinaryResponseWriter.WriteError(output, opcode, stored == StoreResult.TooLarge ? BinaryStatus.ValueTooLarge : BinaryStatus.OutOfMemory, header.Opaque);
                return;
            }
        }

        BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.KeyNotFound, header.Opaque);
    }

    /// <summary>Writes a hit as a get response while the store holds the item still.</summary>
    private readonly struct ItemWriter(IBufferWriter<byte> output, BinaryOpcode opcode, uint opaque, bool withKey) : IItemVisitor
    {
        public void Visit(scoped in ItemView item) =>
            BinaryResponseWriter.WriteItem(output, opcode, opaque, item.Cas, item.Flags, withKey ? item.Key : default, item.Value);
    }

    /// <summary>Reads the flags and CAS of a hit (touch's reply, incr's CAS, append's and delete's compare).</summary>
    private struct ItemCapture : IItemVisitor
    {
        public uint Flags;
        public ulong Cas;

        public void Visit(scoped in ItemView item)
        {
            Flags = item.Flags;
            Cas = item.Cas;
        }
    }
}
