using System.Buffers;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// The classic text commands once framed and admitted: storage, retrieval, arithmetic, delete, touch, flush_all and
/// cache_memlimit, each the store's operation, its counters and memcached's reply. The session owns framing, the
/// write gate and the connection.
/// </summary>
public sealed class ClassicCommandExecutor(ServerContext context, CounterSet counters)
{
    private readonly ServerContext _context = context;
    private readonly IItemStore _store = context.Store;

    private CounterSet Counters { get; } = counters;

    /// <summary>set, add, replace, append, prepend and cas once their data block is whole and the gate let them in.</summary>
    public void Store(ref TextCommand command, in ReadOnlySequence<byte> data, IBufferWriter<byte> output)
    {
        var mode = command.Kind switch
        {
            TextCommandKind.Set => StoreMode.Set,
            TextCommandKind.Add => StoreMode.Add,
            TextCommandKind.Replace => StoreMode.Replace,
            TextCommandKind.Append => StoreMode.Append,
            TextCommandKind.Prepend => StoreMode.Prepend,
            _ => StoreMode.Cas,
        };

        var expiresAt = ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds);
        var result = _store.Store(mode, command.Key, data, command.Flags, expiresAt, command.CasUnique, out _);
        Counters.Increment(Counter.CmdSet);
        _context.Prefixes.RecordSet(command.Key);
        if (mode == StoreMode.Cas)
        {
            Counters.Increment(result switch
            {
                StoreResult.Stored => Counter.CasHits,
                StoreResult.Exists => Counter.CasBadval,
                _ => Counter.CasMisses,
            });
        }

        var reply = result switch
        {
            StoreResult.Stored => TextReplies.Stored,
            StoreResult.NotStored => TextReplies.NotStored,
            StoreResult.Exists => TextReplies.Exists,
            StoreResult.NotFound => TextReplies.NotFound,
            // memcached fails the combined allocation of a too-long append quietly, as a store that did not happen.
            StoreResult.TooLarge when mode is StoreMode.Append or StoreMode.Prepend => TextReplies.NotStored,
            StoreResult.TooLarge => TextReplies.ObjectTooLarge,
            _ => TextReplies.OutOfMemoryStoring,
        };

        if (result == StoreResult.TooLarge)
        {
            Counters.Increment(Counter.StoreTooLarge);
        }

        TextReplyWriter.Reply(output, reply, command.NoReply);
    }

    public void Retrieve(ref TextCommand command, IBufferWriter<byte> output)
    {
        var withCas = command.Kind is TextCommandKind.Gets or TextCommandKind.Gats;
        var touch = command.Kind is TextCommandKind.Gat or TextCommandKind.Gats;
        var expiresAt = touch ? ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds) : 0;

        // memcached answers a bad key with one error line instead of the whole response, so check them all first.
        foreach (var key in command.EnumerateKeys())
        {
            if (!TextCommandParser.IsValidKey(key))
            {
                TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
                return;
            }
        }

        var writer = new ValueWriter(output, withCas);
        foreach (var key in command.EnumerateKeys())
        {
            var hit = touch ? _store.TryGetAndTouch(key, expiresAt, ref writer) : _store.TryGet(key, ref writer);
            if (touch)
            {
                Counters.Increment(Counter.CmdTouch);
                Counters.Increment(hit ? Counter.TouchHits : Counter.TouchMisses);
            }
            else
            {
                Counters.Increment(Counter.CmdGet);
                Counters.Increment(hit ? Counter.GetHits : Counter.GetMisses);
                _context.Prefixes.RecordGet(key, hit);
            }
        }

        TextResponseWriter.Write(output, TextReplies.End);
    }

    public void Arithmetic(ref TextCommand command, IBufferWriter<byte> output)
    {
        var increment = command.Kind == TextCommandKind.Incr;
        var result = _store.ApplyDelta(command.Key, increment, command.Delta, out var value);
        switch (result)
        {
            case ArithmeticResult.Ok:
                Counters.Increment(increment ? Counter.IncrHits : Counter.DecrHits);
                if (!command.NoReply)
                {
                    TextResponseWriter.WriteNumberLine(output, value);
                }

                break;
            case ArithmeticResult.NotFound:
                Counters.Increment(increment ? Counter.IncrMisses : Counter.DecrMisses);
                TextReplyWriter.Reply(output, TextReplies.NotFound, command.NoReply);
                break;
            case ArithmeticResult.NonNumeric:
                TextReplyWriter.Reply(output, TextReplies.NonNumericValue, command.NoReply);
                break;
            default:
                TextReplyWriter.Reply(output, TextReplies.OutOfMemory, command.NoReply);
                break;
        }
    }

    public void Delete(ref TextCommand command, IBufferWriter<byte> output)
    {
        var deleted = _store.Delete(command.Key) == DeleteResult.Deleted;
        Counters.Increment(deleted ? Counter.DeleteHits : Counter.DeleteMisses);
        _context.Prefixes.RecordDelete(command.Key);
        TextReplyWriter.Reply(output, deleted ? TextReplies.Deleted : TextReplies.NotFound, command.NoReply);
    }

    public void Touch(ref TextCommand command, IBufferWriter<byte> output)
    {
        var touched = _store.Touch(command.Key, ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds));
        Counters.Increment(Counter.CmdTouch);
        Counters.Increment(touched ? Counter.TouchHits : Counter.TouchMisses);
        TextReplyWriter.Reply(output, touched ? TextReplies.Touched : TextReplies.NotFound, command.NoReply);
    }

    public void FlushAll(ref TextCommand command, IBufferWriter<byte> output)
    {
        Counters.Increment(Counter.CmdFlush);
        if (!_context.Options.FlushEnabled)
        {
            TextReplyWriter.Reply(output, TextReplies.FlushDisabled, command.NoReply);
            return;
        }

        // A delay of zero or below means now, as in memcached; a positive one follows the exptime rules.
        var at = command.Exptime > 0 ? ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds) : 0;
        _store.FlushAll(at);
        TextReplyWriter.Reply(output, TextReplies.Ok, command.NoReply);
    }

    public void Memlimit(ref TextCommand command, IBufferWriter<byte> output)
    {
        var megabytes = command.NumericArgument;
        if (megabytes < 8)
        {
            TextReplyWriter.Reply(output, TextReplies.MemlimitTooSmall, command.NoReply);
        }
        else if (megabytes > 1_000_000_000)
        {
            TextReplyWriter.Reply(output, TextReplies.MemlimitNotBytes, command.NoReply);
        }
        else
        {
            _store.MemoryLimit = megabytes * 1024L * 1024L;
            TextReplyWriter.Reply(output, TextReplies.Ok, command.NoReply);
        }
    }

    /// <summary>Writes each hit as a VALUE block while the store holds the item still.</summary>
    private readonly struct ValueWriter(IBufferWriter<byte> output, bool withCas) : IItemVisitor
    {
        public void Visit(scoped in ItemView item) =>
            TextResponseWriter.WriteValue(output, item.Key, item.Flags, item.Value, item.Cas, withCas);
    }
}
