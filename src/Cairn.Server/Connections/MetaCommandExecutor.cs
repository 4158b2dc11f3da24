using System.Buffers;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// The meta commands (mg, ms, md, ma, me) once framed and admitted: options from the flags, the store's meta
/// operation, and the reply in memcached's words. The session owns framing, the write gate and the connection.
/// </summary>
public sealed class MetaCommandExecutor(ServerContext context, CounterSet counters)
{
    private readonly ServerContext _context = context;
    private readonly IItemStore _store = context.Store;

    private CounterSet Counters { get; } = counters;

    /// <summary>Returned flags each meta reply may carry (the rest are ignored, as memcached does).</summary>
    private const string GetReturns = "Ockfstlh";
    private const string SetReturns = "Ocks";
    private const string ArithmeticReturns = "Octk";

    /// <summary>ms's M flag as a store mode; the oversized-set rule needs it before the command runs.</summary>
    public static StoreMode SetMode(byte mode) => mode switch
    {
        (byte)'E' => StoreMode.Add,
        (byte)'A' => StoreMode.Append,
        (byte)'P' => StoreMode.Prepend,
        (byte)'R' => StoreMode.Replace,
        _ => StoreMode.Set,
    };

    private static long TtlRemaining(long expiresAt, long now) => expiresAt == 0 ? -1 : Math.Max(expiresAt - now, 0);

    public void Get(ref TextCommand command, IBufferWriter<byte> output)
    {
        var now = _context.NowUnixSeconds;
        var options = new MetaGetOptions
        {
            Bump = !command.Meta.Has('u'),
            Touch = command.Meta.Has('T'),
            TouchExpiresAt = ExpiryTime.ToAbsolute(command.Meta.Ttl, now),
            Vivify = command.Meta.Has('N'),
            VivifyExpiresAt = ExpiryTime.ToAbsolute(command.Meta.VivifyTtl, now),
            Recache = command.Meta.Has('R'),
            RecacheSeconds = command.Meta.RecacheTtl,
            NewCas = command.Meta.Has('E') ? command.Meta.NewCas : 0,
        };

        var writer = new MetaGetWriter(output, command.Meta, command.Key, now);
        var hit = _store.MetaGet(command.Key, options, ref writer);
        Counters.Increment(Counter.CmdGet);
        Counters.Increment(hit ? Counter.GetHits : Counter.GetMisses);
        _context.Prefixes.RecordGet(command.Key, hit);
        if (options.Touch)
        {
            Counters.Increment(Counter.CmdTouch);
            Counters.Increment(hit ? Counter.TouchHits : Counter.TouchMisses);
        }

        if (!hit && !command.Meta.Quiet)
        {
            MetaResponseWriter.WriteLine(output, MetaResponseWriter.Miss, command.Meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
        }
    }

    public void Set(ref TextCommand command, in ReadOnlySequence<byte> data, IBufferWriter<byte> output)
    {
        ref var meta = ref command.Meta;
        var now = _context.NowUnixSeconds;
        var mode = SetMode(meta.Mode);
        var options = new MetaStoreOptions
        {
            HasCompareCas = meta.Has('C'),
            CompareCas = meta.CompareCas,
            NewCas = meta.Has('E') ? meta.NewCas : 0,
            Invalidate = meta.Has('I'),
            Vivify = meta.Has('N') && mode is StoreMode.Append or StoreMode.Prepend,
            VivifyExpiresAt = ExpiryTime.ToAbsolute(meta.VivifyTtl, now),
        };

        var expiresAt = meta.Has('T') ? ExpiryTime.ToAbsolute(meta.Ttl, now) : 0;
        var result = _store.MetaStore(mode, command.Key, data, meta.ClientFlags, expiresAt, options, out var cas, out var length);
        Counters.Increment(Counter.CmdSet);
        _context.Prefixes.RecordSet(command.Key);
        ReadOnlySpan<byte> code;
        switch (result)
        {
            case StoreResult.Stored:
                if (!meta.Quiet)
                {
                    MetaResponseWriter.WriteLine(output, MetaResponseWriter.Success, meta, command.Key, SetReturns, new MetaItemFields(cas, meta.ClientFlags, length, 0, false, 0));
                }

                return;
            case StoreResult.NotStored:
                code = MetaResponseWriter.NotStored;
                break;
            case StoreResult.Exists:
                code = MetaResponseWriter.Exists;
                break;
            case StoreResult.NotFound:
                code = MetaResponseWriter.NotFound;
                break;
            case StoreResult.TooLarge when mode is StoreMode.Append or StoreMode.Prepend:
                // As with classic append: a result past -I is a store that did not happen.
                Counters.Increment(Counter.StoreTooLarge);
                code = MetaResponseWriter.NotStored;
                break;
            case StoreResult.TooLarge:
                Counters.Increment(Counter.StoreTooLarge);
                TextResponseWriter.Write(output, TextReplies.ObjectTooLarge);
                return;
            default:
                TextResponseWriter.Write(output, TextReplies.OutOfMemoryStoring);
                return;
        }

        // memcached answers a refused ms with the same flags as a stored one: c0 (no CAS was assigned) and s of the data sent.
        MetaResponseWriter.WriteLine(output, code, meta, command.Key, SetReturns, new MetaItemFields(0, meta.ClientFlags, (int)data.Length, 0, false, 0));
    }

    public void Delete(ref TextCommand command, IBufferWriter<byte> output)
    {
        ref var meta = ref command.Meta;
        var options = new MetaDeleteOptions
        {
            HasCompareCas = meta.Has('C'),
            CompareCas = meta.CompareCas,
            NewCas = meta.Has('E') ? meta.NewCas : 0,
            Invalidate = meta.Has('I'),
            UpdateTtl = meta.Has('T'),
            ExpiresAt = ExpiryTime.ToAbsolute(meta.Ttl, _context.NowUnixSeconds),
            RemoveValue = meta.Has('x'),
        };

        var status = _store.MetaDelete(command.Key, options);
        Counters.Increment(status == MetaStatus.Ok ? Counter.DeleteHits : Counter.DeleteMisses);
        _context.Prefixes.RecordDelete(command.Key);
        switch (status)
        {
            case MetaStatus.Ok:
                if (!meta.Quiet)
                {
                    MetaResponseWriter.WriteLine(output, MetaResponseWriter.Success, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                }

                break;
            case MetaStatus.Exists:
                MetaResponseWriter.WriteLine(output, MetaResponseWriter.Exists, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                break;
            case MetaStatus.NotFound:
                MetaResponseWriter.WriteLine(output, MetaResponseWriter.NotFound, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                break;
            default:
                TextResponseWriter.Write(output, TextReplies.OutOfMemory);
                break;
        }
    }

    public void Arithmetic(ref TextCommand command, IBufferWriter<byte> output)
    {
        ref var meta = ref command.Meta;
        var now = _context.NowUnixSeconds;
        var increment = meta.Mode is 0 or (byte)'I' or (byte)'+';
        var options = new MetaArithmeticOptions
        {
            Increment = increment,
            Delta = meta.Delta,
            HasCompareCas = meta.Has('C'),
            CompareCas = meta.CompareCas,
            NewCas = meta.Has('E') ? meta.NewCas : 0,
            Vivify = meta.Has('N'),
            VivifyExpiresAt = ExpiryTime.ToAbsolute(meta.VivifyTtl, now),
            Initial = meta.Initial,
            UpdateTtl = meta.Has('T'),
            ExpiresAt = ExpiryTime.ToAbsolute(meta.Ttl, now),
        };

        var status = _store.MetaApplyDelta(command.Key, options, out var outcome);
        switch (status)
        {
            case MetaStatus.Ok:
                Counters.Increment(increment ? Counter.IncrHits : Counter.DecrHits);
                Span<byte> digits = stackalloc byte[20];
                var length = AsciiNumber.FormatUInt64(outcome.Value, digits);
                var fields = new MetaItemFields(outcome.Cas, 0, length, TtlRemaining(outcome.ExpiresAt, now), false, 0);
                if (meta.Has('v'))
                {
                    MetaResponseWriter.WriteHeader(output, MetaResponseWriter.Value, length, meta, command.Key, ArithmeticReturns, fields);
                    TextResponseWriter.Write(output, TextReplies.Crlf);
                    TextResponseWriter.Write(output, digits[..length]);
                    TextResponseWriter.Write(output, TextReplies.Crlf);
                }
                else if (!meta.Quiet)
                {
                    MetaResponseWriter.WriteLine(output, MetaResponseWriter.Success, meta, command.Key, ArithmeticReturns, fields);
                }

                break;
            case MetaStatus.NotFound:
                Counters.Increment(increment ? Counter.IncrMisses : Counter.DecrMisses);
                MetaResponseWriter.WriteLine(output, MetaResponseWriter.NotFound, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                break;
            case MetaStatus.NotStored:
                MetaResponseWriter.WriteLine(output, MetaResponseWriter.NotStored, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                break;
            case MetaStatus.Exists:
                MetaResponseWriter.WriteLine(output, MetaResponseWriter.Exists, meta, command.Key, MetaResponseWriter.KeyAndOpaque, default);
                break;
            case MetaStatus.NonNumeric:
                TextResponseWriter.Write(output, TextReplies.NonNumericValue);
                break;
            default:
                TextResponseWriter.Write(output, TextReplies.OutOfMemory);
                break;
        }
    }

    public void Debug(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (!_store.TryInspect(command.Key, out var item))
        {
            TextResponseWriter.Write(output, "EN\r\n"u8);
            return;
        }

        var now = _context.NowUnixSeconds;
        TextResponseWriter.Write(output, "ME "u8);
        if (command.Meta.Base64Key)
        {
            // The spec: a b key comes back base64 encoded (1.6.18 printed it decoded).
            var span = output.GetSpan(MetaCommandParser.EncodedKeyLength(command.Key.Length));
            output.Advance(MetaCommandParser.EncodeKey(command.Key, span));
        }
        else
        {
            TextResponseWriter.Write(output, command.Key);
        }

        TextResponseWriter.Write(output, " exp="u8);
        MetaResponseWriter.WriteNumber(output, TtlRemaining(item.ExpiresAt, now));
        TextResponseWriter.Write(output, " la="u8);
        MetaResponseWriter.WriteNumber(output, Math.Max(now - item.LastAccessAt, 0));
        TextResponseWriter.Write(output, " cas="u8);
        MetaResponseWriter.WriteNumber(output, item.Cas);
        TextResponseWriter.Write(output, item.Fetched ? " fetch=yes cls="u8 : " fetch=no cls="u8);
        MetaResponseWriter.WriteNumber(output, item.SlabClassId);
        TextResponseWriter.Write(output, " size="u8);

        // memcached's item size: its 48-byte header, 8 of CAS, the key and its NUL, the value and its \r\n.
        MetaResponseWriter.WriteNumber(output, 48 + 8 + item.KeyLength + 1 + item.ValueLength + 2);
        TextResponseWriter.Write(output, TextReplies.Crlf);
    }

    /// <summary>Writes an mg hit (VA with the value, or HD) while the store holds the item still.</summary>
    private ref struct MetaGetWriter(IBufferWriter<byte> output, MetaFlags flags, ReadOnlySpan<byte> key, long now) : IMetaItemVisitor
    {
        private readonly IBufferWriter<byte> _output = output;
        private readonly MetaFlags _flags = flags;
        private readonly ReadOnlySpan<byte> _key = key;
        private readonly long _now = now;

        public readonly void Visit(scoped in ItemView item, in MetaItemState state)
        {
            // mg C: a matching CAS means the client's copy is current, so the value is left out.
            var withValue = _flags.Has('v') && !(_flags.Has('C') && item.Cas == _flags.CompareCas);
            var fields = new MetaItemFields(item.Cas, item.Flags, item.Value.Length, TtlRemaining(item.ExpiresAt, _now), state.HitBefore, Math.Max(_now - state.LastAccessAt, 0));
            MetaResponseWriter.WriteHeader(_output, withValue ? MetaResponseWriter.Value : MetaResponseWriter.Success, withValue ? item.Value.Length : -1, _flags, _key, GetReturns, fields);

            // memcached 1.6.18 puts these after the requested flags, in this order.
            if (state.WinTokenSentBefore)
            {
                TextResponseWriter.Write(_output, " Z"u8);
            }

            if (state.Stale)
            {
                TextResponseWriter.Write(_output, " X"u8);
            }

            if (state.Won)
            {
                TextResponseWriter.Write(_output, " W"u8);
            }

            TextResponseWriter.Write(_output, TextReplies.Crlf);
            if (withValue)
            {
                TextResponseWriter.Write(_output, item.Value);
                TextResponseWriter.Write(_output, TextReplies.Crlf);
            }
        }
    }
}
