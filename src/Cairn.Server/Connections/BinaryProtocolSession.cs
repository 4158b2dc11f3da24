using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Cairn.Protocol.Binary;
using Cairn.Protocol.Text;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// memcached's binary protocol for one connection: frames 24-byte headers and their bodies out of the bytes
/// read so far and answers each request into the output without waiting for I/O, so a pipelined batch
/// (a run of quiet requests ended by a noop) is answered with one flush.
/// </summary>
public sealed class BinaryProtocolSession : IProtocolSession, IRequestFramer
{
    /// <summary>Room for the largest extras (255) and key (250) of one request when they straddle segments.</summary>
    private const int ExtrasAndKeyMax = 255 + BinaryHeader.MaxKeyLength;


    /// <summary>incr/decr's "expiration" extra that means: do not create a missing counter.</summary>

    /// <summary>Largest SASL body read; PLAIN's user and password fit many times over, and longer is refused unread.</summary>
    private const int MaxSaslBody = 4096;

    private static ReadOnlySpan<byte> Authenticated => "Authenticated"u8;

    private static readonly byte[] VersionBytes = Encoding.ASCII.GetBytes(ServerContext.Version);

    private readonly ServerContext _context;
    private readonly IItemStore _store;
    private readonly StatsReporter _stats;
    /// <summary>Extras and key that straddle segments; allocated the first time that happens, so most connections never do.</summary>
    private byte[]? _headScratch;
    private ArrayBufferWriter<byte>? _statsScratch;

    public BinaryProtocolSession(ServerContext context, ConnectionInfo? connection = null)
    {
        _context = context;
        _store = context.Store;
        _stats = context.StatsReporter;
        Connection = connection;
        _authenticated = !context.SaslRequired;
        Gate = new WriteGate(context);
        _items = new BinaryItemCommandExecutor(context, Counters);
        _batch = new RequestBatch(Gate);
    }

    /// <summary>False under -S until SASL PLAIN succeeds on this connection.</summary>
    private bool _authenticated;

    private readonly BinaryItemCommandExecutor _items;
    private readonly RequestBatch _batch;

    public ConnectionInfo? Connection { get; }

    public CounterSet Counters { get; } = new();

    private WriteGate Gate { get; }

    /// <summary>Set when the batch ran a command that may have changed what a restart sees.</summary>
    public bool WritesPending => Gate.WritesPending;

    public bool TakeWritesPending() => Gate.TakeWritesPending();

    public HeldReplies? HeldReplies => Gate.Held;

    /// <summary>No binary command waits on anything (there is no binary compact).</summary>
    /// <summary>The only thing a binary connection ever waits for: the delay after a failed SASL attempt.</summary>
    private Task? _pendingDelay;

    public async Task CompletePendingAsync(PipeReader input, PipeWriter output)
    {
        var delay = _pendingDelay ?? Task.CompletedTask;
        _pendingDelay = null;
        await delay;
    }

    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer, PipeWriter output) => _batch.Run(this, ref buffer, output);

    RequestStep IRequestFramer.AnswerOne(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output) =>
        BinaryHeader.TryRead(buffer, out var header) ? ProcessOne(ref buffer, in header, output) : RequestStep.NeedMore;

    void IRequestFramer.SwallowEnded(IBufferWriter<byte> output)
    {
    }

    /// <summary>Answers one request if it is all here.</summary>
    private RequestStep ProcessOne(ref ReadOnlySequence<byte> buffer, in BinaryHeader header, IBufferWriter<byte> output)
    {
        var check = header.Check();
        if (!_authenticated && RefusedUnauthenticated(in header, check, output))
        {
            return RequestStep.Close;
        }

        switch (check)
        {
            case FrameCheck.BadMagic:
                // memcached drops a connection that loses the frame boundary without a word.
                return RequestStep.Close;
            case FrameCheck.BodyTooShort:
                BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.UnknownCommand, header.Opaque);
                return RequestStep.Close;
            case FrameCheck.InvalidArguments:
                BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.InvalidArguments, header.Opaque);
                return RequestStep.Close;
            case FrameCheck.UnknownCommand:
                SkipUnknown(ref buffer, in header, output);
                return RequestStep.Done;
        }

        if (_context.SaslRequired && header.Opcode is BinaryOpcode.SaslListMechs or BinaryOpcode.SaslAuth or BinaryOpcode.SaslStep)
        {
            return ProcessSasl(ref buffer, in header, output);
        }

        if (!header.Opcode.IsKnown())
        {
            // SASL (no -S) and anything newer: answered, and the body skipped so the stream stays in sync.
            SkipUnknown(ref buffer, in header, output);
            return RequestStep.Done;
        }

        var frameLength = BinaryHeader.Size + (long)header.TotalBodyLength;
        if (header.Opcode.IsStorage())
        {
            // Flags 0 costs least: a body over the limit even then is refused here; the store decides the rest with the flags.
            if (!ItemLimits.Fits(header.KeyLength, header.ValueLength, 0, _context.Options.MaxItemSize))
            {
                var headLength = BinaryHeader.Size + header.ExtrasLength + header.KeyLength;
                if (buffer.Length < headLength)
                {
                    return RequestStep.NeedMore;
                }

                RefuseTooLarge(buffer, in header, output);
                buffer = buffer.Slice(headLength);
                _batch.Swallow(header.ValueLength);
                return RequestStep.Done;
            }
        }

        if (buffer.Length < frameLength)
        {
            return RequestStep.NeedMore;
        }

        var body = buffer.Slice(BinaryHeader.Size, header.TotalBodyLength);
        buffer = buffer.Slice(frameLength);
        if (Connection is not null)
        {
            _context.Log.BinaryCommand(Connection.Id, header.Opcode, header.KeyLength);
            Connection.LastCommandUnixSeconds = _context.NowUnixSeconds;
        }

        return Execute(in header, body, output) ? RequestStep.Done : RequestStep.Close;
    }

    /// <summary>
    /// memcached -S (proto_bin.c authenticated()): before SASL succeeds only the SASL opcodes and version are
    /// served; anything else is answered "Auth failure." and the connection closed.
    /// </summary>
    private static bool RefusedUnauthenticated(in BinaryHeader header, FrameCheck check, IBufferWriter<byte> output)
    {
        if (check is FrameCheck.BadMagic or FrameCheck.BodyTooShort
            || header.Opcode is BinaryOpcode.SaslListMechs or BinaryOpcode.SaslAuth or BinaryOpcode.SaslStep or BinaryOpcode.Version)
        {
            return false;
        }

        BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.AuthenticationError, header.Opaque);
        return true;
    }

    /// <summary>SASL under -S, with memcached's framing checks: list mechanisms answers PLAIN; auth checks PLAIN; step always fails (PLAIN has one step).</summary>
    private RequestStep ProcessSasl(ref ReadOnlySequence<byte> buffer, in BinaryHeader header, IBufferWriter<byte> output)
    {
        var opcode = header.Opcode;
        if (opcode == BinaryOpcode.SaslListMechs)
        {
            if (header.ExtrasLength != 0 || header.KeyLength != 0 || header.TotalBodyLength != 0)
            {
                BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.InvalidArguments, header.Opaque);
                return RequestStep.Close;
            }

            buffer = buffer.Slice(BinaryHeader.Size);
            BinaryResponseWriter.Write(output, opcode, BinaryStatus.NoError, header.Opaque, 0, default, default, SaslPlain.MechanismName);
            return RequestStep.Done;
        }

        if (header.ExtrasLength != 0 || header.KeyLength == 0)
        {
            BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.InvalidArguments, header.Opaque);
            return RequestStep.Close;
        }

        if (header.KeyLength > SaslPlain.MaxMechanismLength || header.TotalBodyLength > MaxSaslBody)
        {
            // Refused without buffering it; the body streams past so the next request is read in sync.
            BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.InvalidArguments, header.Opaque);
            buffer = buffer.Slice(BinaryHeader.Size);
            _batch.Swallow(header.TotalBodyLength);
            return RequestStep.Done;
        }

        var frameLength = BinaryHeader.Size + (long)header.TotalBodyLength;
        if (buffer.Length < frameLength)
        {
            // A body shorter than declared: wait for the rest, as memcached does; nothing is answered early.
            return RequestStep.NeedMore;
        }

        Span<byte> body = stackalloc byte[(int)header.TotalBodyLength];
        buffer.Slice(BinaryHeader.Size, header.TotalBodyLength).CopyTo(body);
        buffer = buffer.Slice(frameLength);
        if (Connection is not null)
        {
            Connection.LastCommandUnixSeconds = _context.NowUnixSeconds;
        }

        var mechanism = body[..header.KeyLength];
        var succeeded = opcode == BinaryOpcode.SaslAuth
            && mechanism.SequenceEqual(SaslPlain.MechanismName)
            && SaslPlain.Authenticate(body[header.KeyLength..], _context.Credentials!);
        CryptographicOperations.ZeroMemory(body);

        Counters.Increment(Counter.AuthCmds);
        if (succeeded)
        {
            _authenticated = true;
            BinaryResponseWriter.Write(output, opcode, BinaryStatus.NoError, header.Opaque, 0, default, default, Authenticated);
        }
        else
        {
            // As memcached: a failure leaves an authenticated connection authenticated, and an unauthenticated one open.
            Counters.Increment(Counter.AuthErrors);
            _context.Log.AuthenticationFailed(Connection?.Id ?? 0, "SASL PLAIN");
            BinaryResponseWriter.WriteError(output, opcode, BinaryStatus.AuthenticationError, header.Opaque);
            _pendingDelay = AuthThrottle.AfterFailure(_context);
            if (_pendingDelay is not null)
            {
                return RequestStep.AwaitOperation;
            }
        }

        return RequestStep.Done;
    }

    private void SkipUnknown(ref ReadOnlySequence<byte> buffer, in BinaryHeader header, IBufferWriter<byte> output)
    {
        BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.UnknownCommand, header.Opaque);
        buffer = buffer.Slice(BinaryHeader.Size);
        _batch.Swallow(header.TotalBodyLength);
    }

    private void RefuseTooLarge(in ReadOnlySequence<byte> buffer, in BinaryHeader header, IBufferWriter<byte> output)
    {
        Counters.Increment(Counter.StoreTooLarge);
        if (header.Opcode is BinaryOpcode.Set or BinaryOpcode.SetQ)
        {
            // As memcached: a failed overwrite must not leave the old value behind.
            var head = HeadSpan(buffer.Slice(BinaryHeader.Size, header.ExtrasLength + header.KeyLength));
            if (!Gate.TryDropOldValueOfOversizedSet(_store, head[header.ExtrasLength..], out var refusal, header.Opcode, header.Opaque))
            {
                WriteRefusal(output, in header, refusal);
                return;
            }
        }

        // memcached fails a too-long append quietly, as a store that did not happen.
        var status = header.Opcode is BinaryOpcode.Append or BinaryOpcode.AppendQ or BinaryOpcode.Prepend or BinaryOpcode.PrependQ
            ? BinaryStatus.ItemNotStored
            : BinaryStatus.ValueTooLarge;
        BinaryResponseWriter.WriteError(output, header.Opcode, status, header.Opaque);
    }

    private bool Execute(in BinaryHeader header, ReadOnlySequence<byte> body, IBufferWriter<byte> output)
    {
        var headLength = header.ExtrasLength + header.KeyLength;
        var head = HeadSpan(body.Slice(0, headLength));
        var extras = head[..header.ExtrasLength];
        var key = head[header.ExtrasLength..];
        var opcode = header.Opcode;

        switch (opcode)
        {
            case BinaryOpcode.Get or BinaryOpcode.GetQ or BinaryOpcode.GetK or BinaryOpcode.GetKQ:
                _items.Get(in header, key, touch: false, 0, output);
                break;
            case BinaryOpcode.Gat or BinaryOpcode.GatQ or BinaryOpcode.GatK or BinaryOpcode.GatKQ:
                if (!RefusedByLog(output, in header))
                {
                    _items.Get(in header, key, touch: true, BinaryPrimitives.ReadUInt32BigEndian(extras), output);
                }

                break;
            case BinaryOpcode.Touch:
                if (!RefusedByLog(output, in header))
                {
                    _items.Touch(in header, key, BinaryPrimitives.ReadUInt32BigEndian(extras), output);
                }

                break;
            case BinaryOpcode.Set or BinaryOpcode.SetQ or BinaryOpcode.Add or BinaryOpcode.AddQ
                or BinaryOpcode.Replace or BinaryOpcode.ReplaceQ or BinaryOpcode.Append or BinaryOpcode.AppendQ
                or BinaryOpcode.Prepend or BinaryOpcode.PrependQ:
                if (!RefusedByLog(output, in header))
                {
                    _items.Store(in header, extras, key, body.Slice(headLength), output);
                }

                break;
            case BinaryOpcode.Delete or BinaryOpcode.DeleteQ:
                if (!RefusedByLog(output, in header))
                {
                    _items.Delete(in header, key, output);
                }

                break;
            case BinaryOpcode.Increment or BinaryOpcode.IncrementQ or BinaryOpcode.Decrement or BinaryOpcode.DecrementQ:
                if (!RefusedByLog(output, in header))
                {
                    _items.Arithmetic(in header, extras, key, output);
                }

                break;
            case BinaryOpcode.Quit:
                BinaryResponseWriter.WriteEmpty(output, opcode, header.Opaque);
                return false;
            case BinaryOpcode.QuitQ:
                return false;
            case BinaryOpcode.Flush or BinaryOpcode.FlushQ:
                ExecuteFlush(in header, extras, output);
                break;
            case BinaryOpcode.Noop:
                BinaryResponseWriter.WriteEmpty(output, opcode, header.Opaque);
                break;
            case BinaryOpcode.Version:
                BinaryResponseWriter.Write(output, opcode, BinaryStatus.NoError, header.Opaque, 0, default, default, VersionBytes);
                break;
            case BinaryOpcode.Verbosity:
                _context.Verbosity = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(extras), 2u);
                BinaryResponseWriter.WriteEmpty(output, opcode, header.Opaque);
                break;
            case BinaryOpcode.Stat:
                ExecuteStat(in header, key, output);
                break;
        }

        return true;
    }

    private void ExecuteFlush(in BinaryHeader header, ReadOnlySpan<byte> extras, IBufferWriter<byte> output)
    {
        Counters.Increment(Counter.CmdFlush);
        if (!_context.Options.FlushEnabled)
        {
            // memcached -F answers a binary flush with an authentication error.
            BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.AuthenticationError, header.Opaque);
            return;
        }

        if (RefusedByLog(output, in header))
        {
            return;
        }

        var exptime = extras.Length == 4 ? BinaryPrimitives.ReadUInt32BigEndian(extras) : 0;
        _store.FlushAll(exptime > 0 ? ExpiryTime.ToAbsolute(exptime, _context.NowUnixSeconds) : 0);
        if (!header.Opcode.IsQuiet())
        {
            BinaryResponseWriter.WriteEmpty(output, header.Opcode, header.Opaque);
        }
    }

    /// <summary>
    /// stat and its groups come from the same reporter as the text "stats": its STAT lines become one
    /// response each, and an empty key ends them. Not a hot path.
    /// </summary>
    private void ExecuteStat(in BinaryHeader header, ReadOnlySpan<byte> group, IBufferWriter<byte> output)
    {
        Span<byte> line = stackalloc byte[6 + BinaryHeader.MaxKeyLength];
        "stats"u8.CopyTo(line);
        var length = 5;
        if (!group.IsEmpty)
        {
            line[length++] = (byte)' ';
            group.CopyTo(line[length..]);
            length += group.Length;
        }

        var text = _statsScratch ??= new ArrayBufferWriter<byte>();
        text.ResetWrittenCount();
        var tokens = new TextTokens(line[..length]);
        _stats.Write(ref tokens, text, Counters);

        var reply = text.WrittenSpan;
        if (!reply.StartsWith("STAT "u8) && !reply.SequenceEqual("END\r\n"u8) && !reply.SequenceEqual("RESET\r\n"u8) && !reply.SequenceEqual("OK\r\n"u8))
        {
            // An unknown group: memcached answers "Not found".
            BinaryResponseWriter.WriteError(output, header.Opcode, BinaryStatus.KeyNotFound, header.Opaque);
            return;
        }

        while (reply.StartsWith("STAT "u8))
        {
            var end = reply.IndexOf("\r\n"u8);
            var stat = reply[5..end];
            var space = stat.IndexOf((byte)' ');
            var name = space < 0 ? stat : stat[..space];
            var value = space < 0 ? default : stat[(space + 1)..];
            BinaryResponseWriter.WriteStat(output, header.Opaque, name, value);
            reply = reply[(end + 2)..];
        }

        BinaryResponseWriter.WriteStat(output, header.Opaque, default, default);
    }

    /// <summary>
    /// Whether the log has stopped accepting writes (disk full, I/O error); if so the client hears why, even
    /// from a quiet request, and nothing changes. Otherwise the write goes ahead and the batch's replies wait for the log.
    /// </summary>
    private bool RefusedByLog(IBufferWriter<byte> output, in BinaryHeader header)
    {
        if (Gate.TryAdmit(out var refusal, header.Opcode, header.Opaque))
        {
            return false;
        }

        WriteRefusal(output, in header, refusal);
        return true;
    }

    /// <summary>A replica's refusal is the not-stored status (the write did not happen); a failing log's is an internal error.</summary>
    private static void WriteRefusal(IBufferWriter<byte> output, in BinaryHeader header, string refusal) =>
        BinaryResponseWriter.WriteError(
            output,
            header.Opcode,
            refusal == WriteGate.ReadOnlyReplica ? BinaryStatus.ItemNotStored : BinaryStatus.InternalError,
            header.Opaque,
            default,
            Encoding.ASCII.GetBytes(refusal));

    /// <summary>Extras and key as one span: in place when they sit in one segment, else copied to scratch.</summary>
    private ReadOnlySpan<byte> HeadSpan(in ReadOnlySequence<byte> head)
    {
        if (head.IsSingleSegment)
        {
            return head.FirstSpan;
        }

        _headScratch ??= new byte[ExtrasAndKeyMax];
        head.CopyTo(_headScratch);
        return _headScratch.AsSpan(0, (int)head.Length);
    }

    public void Dispose() => Gate.Held?.Dispose();
}
