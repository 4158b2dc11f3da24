using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using Cairn.Protocol.Text;
using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage;

namespace Cairn.Server.Connections;

public enum BatchOutcome
{
    /// <summary>Everything complete was answered; wait for more bytes.</summary>
    NeedMoreData,

    /// <summary>Enough replies are buffered; flush them, then carry on with what is already read.</summary>
    FlushAndContinue,

    /// <summary>quit, an unframeable line, or shutdown: flush and close.</summary>
    Close,

    /// <summary>A command needs to wait (compact): flush what is answered, await <see cref="TextProtocolSession.CompletePendingAsync"/>, carry on.</summary>
    AwaitOperation,
}

/// <summary>
/// The classic text protocol for one connection: frames lines and data blocks out of the bytes read so
/// far, answers each request into the output, and never waits for I/O itself, so a whole pipelined
/// batch is answered before the connection loop flushes once.
/// </summary>
public sealed class TextProtocolSession : IProtocolSession, IRequestFramer
{
    /// <summary>memcached closes a connection whose line has no newline within this many bytes...</summary>
    public const int MaxLineLength = 2048;

    /// <summary>...unless it is a multi-key get, which Cairn lets grow to --max-get-line (this by default) instead of without limit.</summary>
    public const int DefaultMaxMultiGetLineLength = 2 * 1024 * 1024;


    private readonly ServerContext _context;
    private readonly IItemStore _store;
    private readonly StatsReporter _stats;
    /// <summary>
    /// A line that straddles buffer segments is copied here; rented only then and returned when the batch ends,
    /// so an idle connection holds no buffer of its own.
    /// </summary>
    private byte[]? _lineScratch;

    /// <summary>memcached sends "object too large" only once the refused data has streamed past; so does Cairn.</summary>
    private bool _tooLargeReplyAfterSwallow;

    public TextProtocolSession(ServerContext context, ConnectionInfo? connection = null)
    {
        _context = context;
        _store = context.Store;
        _stats = context.StatsReporter;
        Connection = connection;
        _authenticated = !context.AsciiAuthRequired;
        Gate = new WriteGate(context);
        _batch = new RequestBatch(Gate);
        _classic = new ClassicCommandExecutor(context, Counters);
        _meta = new MetaCommandExecutor(context, Counters);
    }

    private readonly RequestBatch _batch;
    private readonly ClassicCommandExecutor _classic;
    private readonly MetaCommandExecutor _meta;

    /// <summary>False under -Y until the connection's "set" handshake names a user and password from the file.</summary>
    private bool _authenticated;

    private Task? _pendingOperation;

    public CounterSet Counters { get; } = new();

    private WriteGate Gate { get; }

    /// <summary>Set when the batch ran a command that may have changed what a restart sees.</summary>
    public bool WritesPending => Gate.WritesPending;

    public bool TakeWritesPending() => Gate.TakeWritesPending();

    public HeldReplies? HeldReplies => Gate.Held;

    /// <summary>The wait after a failed ascii auth: it answers nothing of its own.</summary>
    private Task? _pendingDelay;

    /// <summary>A replication stream this connection turned into: it writes to the connection until it ends.</summary>
    private Func<PipeReader, PipeWriter, Task>? _pendingStream;

    /// <summary>Awaits the operation a command started (compact) and writes its reply.</summary>
    public async Task CompletePendingAsync(PipeReader input, PipeWriter output)
    {
        if (_pendingDelay is { } delay)
        {
            _pendingDelay = null;
            await delay;
            return;
        }

        if (_pendingStream is { } stream)
        {
            _pendingStream = null;
            await stream(input, output);
            return;
        }

        var operation = _pendingOperation ?? Task.CompletedTask;
        _pendingOperation = null;
        try
        {
            await operation;
            TextResponseWriter.Write(output, TextReplies.Ok);
        }
        catch (Exception error) when (error is IOException or InvalidOperationException)
        {
            TextReplyWriter.ServerError(output, error.Message);
        }
    }

    public ConnectionInfo? Connection { get; }

    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer, PipeWriter output)
    {
        try
        {
            return _batch.Run(this, ref buffer, output);
        }
        finally
        {
            ReleaseLineScratch();
        }
    }

    RequestStep IRequestFramer.AnswerOne(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output) => ProcessOne(ref buffer, output);

    void IRequestFramer.SwallowEnded(IBufferWriter<byte> output)
    {
        if (_tooLargeReplyAfterSwallow)
        {
            _tooLargeReplyAfterSwallow = false;
            TextResponseWriter.Write(output, TextReplies.ObjectTooLarge);
        }
    }

    private RequestStep ProcessOne(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output)
    {
        if (!_authenticated)
        {
            return ProcessAuthentication(ref buffer, output);
        }

        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            if (buffer.Length > MaxLineLength && (!StartsLikeMultiGet(buffer) || buffer.Length > _context.Options.MaxGetLineLength))
            {
                return RequestStep.Close;
            }

            return RequestStep.NeedMore;
        }

        var lineSequence = buffer.Slice(0, newline.Value);
        var line = lineSequence.IsSingleSegment ? lineSequence.FirstSpan : CopyToScratch(lineSequence);

        // memcached strips one '\r' before the '\n' when the line has more than that one byte.
        if (line.Length > 1 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        var rest = buffer.Slice(buffer.GetPosition(1, newline.Value));
        if (Connection is not null)
        {
            _context.Log.CommandLine(Connection.Id, line);
        }

        if (TextCommandParser.IsHttpRequestLine(line))
        {
            return RequestStep.Close;
        }

        // Where a meta command's base64 key is decoded: it lives as long as the command, which ends in this frame.
        Span<byte> keyScratch = stackalloc byte[MetaCommandParser.KeyScratchLength];
        TextCommandParser.Parse(line, keyScratch, out var command);
        if (Connection is not null)
        {
            Connection.LastCommandUnixSeconds = _context.NowUnixSeconds;
        }

        if (command.Kind.IsStorage() || command.Kind == TextCommandKind.MetaSet)
        {
            return ProcessStorage(ref buffer, rest, ref command, output);
        }

        buffer = rest;
        if (command.Kind == TextCommandKind.Invalid)
        {
            TextReplyWriter.Reply(output, command.ErrorReply, command.NoReply);
            _batch.Swallow(command.SwallowLength);
            return RequestStep.Done;
        }

        return Execute(ref command, output);
    }

    /// <summary>
    /// -Y's handshake, as memcached's try_read_command_asciiauth: a "set" line and its "user password" block
    /// authenticate; any other line is answered "unauthenticated"; a failure leaves the connection open to try again.
    /// </summary>
    private RequestStep ProcessAuthentication(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            return buffer.Length > MaxLineLength ? RequestStep.Close : RequestStep.NeedMore;
        }

        var lineSequence = buffer.Slice(0, newline.Value);
        var line = lineSequence.IsSingleSegment ? lineSequence.FirstSpan : CopyToScratch(lineSequence);
        if (line.Length > 0 && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        var rest = buffer.Slice(buffer.GetPosition(1, newline.Value));
        if (!AsciiAuth.TryParseSetLine(line, out var length))
        {
            buffer = rest;
            TextResponseWriter.Write(output, AsciiAuth.Unauthenticated);
            return RequestStep.Done;
        }

        var blockLength = (long)length + 2;
        if (length > AsciiAuth.MaxTokenLength)
        {
            // As memcached 1.6.45: refused at once and nothing skipped, so an absurd length (2 GB) cannot hold the
            // connection waiting; whatever follows is read as lines, each answered "unauthenticated".
            buffer = rest;
            TextResponseWriter.Write(output, AsciiAuth.TokenTooLong);
            return RequestStep.Done;
        }

        if (rest.Length < blockLength)
        {
            return RequestStep.NeedMore;
        }

        buffer = rest.Slice(blockLength);
        if (!IsCrlf(rest.Slice(length, 2)))
        {
            TextResponseWriter.Write(output, AsciiAuth.BadTermination);
            return RequestStep.Done;
        }

        var block = rest.Slice(0, length);
        Span<byte> data = stackalloc byte[(int)length];
        block.CopyTo(data);
        var reply = AsciiAuth.Check(data, _context.Credentials!, out _authenticated, out var attempted);
        CryptographicOperations.ZeroMemory(data);
        if (attempted)
        {
            Counters.Increment(Counter.AuthCmds);
            if (!_authenticated)
            {
                Counters.Increment(Counter.AuthErrors);
                _context.Log.AuthenticationFailed(Connection?.Id ?? 0, "ascii");
                TextResponseWriter.Write(output, reply);
                _pendingDelay = AuthThrottle.AfterFailure(_context);
                return _pendingDelay is null ? RequestStep.Done : RequestStep.AwaitOperation;
            }
        }

        TextResponseWriter.Write(output, reply);
        return RequestStep.Done;
    }

    private RequestStep ProcessStorage(ref ReadOnlySequence<byte> buffer, ReadOnlySequence<byte> rest, ref TextCommand command, IBufferWriter<byte> output)
    {
        var blockLength = (long)command.ByteCount + 2;
        var flags = command.Kind == TextCommandKind.MetaSet ? command.Meta.ClientFlags : command.Flags;
        if (!ItemLimits.Fits(command.Key.Length, command.ByteCount, flags, _context.Options.MaxItemSize))
        {
            // Refused before any memory is taken for it; the data streams past as it arrives.
            Counters.Increment(Counter.StoreTooLarge);
            bool refused = false;
            if (command.Kind == TextCommandKind.Set || (command.Kind == TextCommandKind.MetaSet && MetaCommandExecutor.SetMode(command.Meta.Mode) == StoreMode.Set))
            {
                refused = !Gate.TryDropOldValueOfOversizedSet(_store, command.Key, out var refusal);
                if (refused && !command.NoReply)
                {
                    TextReplyWriter.ServerError(output, refusal);
                }
            }

            _tooLargeReplyAfterSwallow = !command.NoReply && !refused;
            buffer = rest;
            _batch.Swallow(blockLength);
            return RequestStep.Done;
        }

        if (command.BareNewlineEndsData && rest.Length > command.ByteCount && ByteAt(rest, command.ByteCount) == (byte)'\n')
        {
            blockLength = command.ByteCount + 1;
        }
        else if (rest.Length < blockLength)
        {
            // The line is parsed again once the data block is complete; that is cheaper than keeping state.
            return RequestStep.NeedMore;
        }

        buffer = rest.Slice(blockLength);
        var terminator = rest.Slice(command.ByteCount, blockLength - command.ByteCount);
        if (!IsCrlf(terminator))
        {
            TextReplyWriter.Reply(output, TextReplies.BadDataChunk, command.NoReply);
            return RequestStep.Done;
        }

        if (RefusedByLog(output, command.NoReply))
        {
            return RequestStep.Done;
        }

        var data = rest.Slice(0, command.ByteCount);
        if (command.Kind == TextCommandKind.MetaSet)
        {
            _meta.Set(ref command, data, output);
            return RequestStep.Done;
        }

        _classic.Store(ref command, data, output);
        return RequestStep.Done;
    }

    private RequestStep Execute(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (command.Kind.Mutates() && RefusedByLog(output, command.NoReply))
        {
            return RequestStep.Done;
        }

        // mg changes the item only when it touches (T) or vivifies (N).
        if (command.Kind == TextCommandKind.MetaGet && (command.Meta.Has('T') || command.Meta.Has('N')) && RefusedByLog(output, command.NoReply))
        {
            return RequestStep.Done;
        }

        switch (command.Kind)
        {
            case TextCommandKind.Get:
            case TextCommandKind.Gets:
            case TextCommandKind.Gat:
            case TextCommandKind.Gats:
                _classic.Retrieve(ref command, output);
                break;
            case TextCommandKind.Delete:
                _classic.Delete(ref command, output);
                break;
            case TextCommandKind.Incr:
            case TextCommandKind.Decr:
                _classic.Arithmetic(ref command, output);
                break;
            case TextCommandKind.Touch:
                _classic.Touch(ref command, output);
                break;
            case TextCommandKind.FlushAll:
                _classic.FlushAll(ref command, output);
                break;
            case TextCommandKind.Version:
                TextResponseWriter.Write(output, "VERSION "u8);
                TextResponseWriter.Write(output, Encoding.ASCII.GetBytes(ServerContext.Version));
                TextResponseWriter.Write(output, TextReplies.Crlf);
                break;
            case TextCommandKind.Verbosity:
                _context.Verbosity = (int)Math.Min(command.NumericArgument, 2u);
                TextReplyWriter.Reply(output, TextReplies.Ok, command.NoReply);
                break;
            case TextCommandKind.Quit:
                return RequestStep.Close;
            case TextCommandKind.Stats:
                _stats.Write(ref command.Tokens, output, Counters);
                break;
            case TextCommandKind.CacheMemlimit:
                _classic.Memlimit(ref command, output);
                break;
            case TextCommandKind.Shutdown:
                return ExecuteShutdown(ref command, output);
            case TextCommandKind.MetaGet:
                _meta.Get(ref command, output);
                break;
            case TextCommandKind.MetaDelete:
                _meta.Delete(ref command, output);
                break;
            case TextCommandKind.MetaArithmetic:
                _meta.Arithmetic(ref command, output);
                break;
            case TextCommandKind.MetaNoOp:
                TextResponseWriter.Write(output, MetaResponseWriter.NoOp);
                break;
            case TextCommandKind.MetaDebug:
                _meta.Debug(ref command, output);
                break;
            case TextCommandKind.Compact:
                if (_context.Durability is null)
                {
                    TextResponseWriter.Write(output, TextReplies.PersistenceOff);
                    return RequestStep.Done;
                }

                _pendingOperation = _context.Durability.CompactAsync();
                return RequestStep.AwaitOperation;
            case TextCommandKind.Replicate:
                return Await(ReplicationCommands.Replicate(_context, ref command, Connection?.Remote, output));
            case TextCommandKind.LruCrawlerDump:
                return Await(KeyDumpCommand.Start(_context, ref command, output));
            case TextCommandKind.ReplicaOf:
                return Await(ReplicationCommands.ReplicaOf(_context, ref command, output));
        }

        return RequestStep.Done;
    }

    /// <summary>Leaves the connection waiting for what a command started, or carries on when it answered at once.</summary>
    private RequestStep Await(PendingWork? work)
    {
        if (work is not { } pending)
        {
            return RequestStep.Done;
        }

        _pendingOperation = pending.Operation;
        _pendingStream = pending.Stream;
        return RequestStep.AwaitOperation;
    }

    private RequestStep ExecuteShutdown(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (!_context.Options.ShutdownCommandEnabled)
        {
            TextResponseWriter.Write(output, TextReplies.ShutdownNotEnabled);
            return RequestStep.Done;
        }

        if (command.Tokens.Count == 2 || (command.Tokens.Count == 3 && command.Tokens[1].SequenceEqual("graceful"u8)))
        {
            _context.RequestShutdown();
            return RequestStep.Close;
        }

        TextResponseWriter.Write(output, TextReplies.InvalidShutdownMode);
        return RequestStep.Done;
    }

    /// <summary>
    /// Whether the log has stopped accepting writes (disk full, I/O error); if so the client hears why and
    /// nothing changes, so nothing is acknowledged that a restart would not show. Otherwise the write goes
    /// ahead and the batch's replies wait for the log.
    /// </summary>
    private bool RefusedByLog(IBufferWriter<byte> output, bool noReply)
    {
        if (Gate.TryAdmit(out var refusal))
        {
            return false;
        }

        if (!noReply)
        {
            TextReplyWriter.ServerError(output, refusal);
        }

        return true;
    }

    private static byte ByteAt(in ReadOnlySequence<byte> buffer, long index)
    {
        Span<byte> one = stackalloc byte[1];
        buffer.Slice(index, 1).CopyTo(one);
        return one[0];
    }

    /// <summary>\r\n, or the lone \n that only a short-form set's block may end with.</summary>
    private static bool IsCrlf(ReadOnlySequence<byte> terminator)
    {
        if (terminator.Length == 1)
        {
            return ByteAt(terminator, 0) == (byte)'\n';
        }

        Span<byte> pair = stackalloc byte[2];
        terminator.CopyTo(pair);
        return pair[0] == (byte)'\r' && pair[1] == (byte)'\n';
    }

    private static bool StartsLikeMultiGet(in ReadOnlySequence<byte> buffer)
    {
        Span<byte> head = stackalloc byte[106];
        var length = (int)Math.Min(buffer.Length, head.Length);
        buffer.Slice(0, length).CopyTo(head);
        head = head[..length];
        var spaces = 0;
        while (spaces < head.Length && head[spaces] == (byte)' ')
        {
            spaces++;
        }

        if (spaces > 100)
        {
            return false;
        }

        var start = head[spaces..];
        return (start.Length >= 4 && Ascii.EqualsIgnoreCase(start[..4], "get "u8))
            || (start.Length >= 5 && Ascii.EqualsIgnoreCase(start[..5], "gets "u8));
    }

    private ReadOnlySpan<byte> CopyToScratch(in ReadOnlySequence<byte> line)
    {
        if (_lineScratch is null || line.Length > _lineScratch.Length)
        {
            ReleaseLineScratch();
            _lineScratch = ArrayPool<byte>.Shared.Rent((int)Math.Max(line.Length, MaxLineLength + 2));
        }

        line.CopyTo(_lineScratch);
        return _lineScratch.AsSpan(0, (int)line.Length);
    }

    private void ReleaseLineScratch()
    {
        if (_lineScratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_lineScratch);
            _lineScratch = null;
        }
    }

    public void Dispose()
    {
        ReleaseLineScratch();
        Gate.Held?.Dispose();
    }
}
