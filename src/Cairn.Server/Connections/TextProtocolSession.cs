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
public sealed class TextProtocolSession : IProtocolSession
{
    /// <summary>memcached closes a connection whose line has no newline within this many bytes...</summary>
    public const int MaxLineLength = 2048;

    /// <summary>...unless it is a multi-key get, which Cairn lets grow to --max-get-line (this by default) instead of without limit.</summary>
    public const int DefaultMaxMultiGetLineLength = 2 * 1024 * 1024;

    /// <summary>Past this much unflushed output the batch pauses so one huge pipeline cannot buffer without bound.</summary>
    private const int FlushThreshold = 256 * 1024;

    private readonly ServerContext _context;
    private readonly IItemStore _store;
    private readonly StatsReporter _stats;
    /// <summary>
    /// A line that straddles buffer segments is copied here; rented only then and returned when the batch ends,
    /// so an idle connection holds no buffer of its own.
    /// </summary>
    private byte[]? _lineScratch;
    private long _swallowRemaining;

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
    }

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
            WriteServerError(output, error.Message);
        }
    }

    public ConnectionInfo? Connection { get; }

    public BatchOutcome Process(ref ReadOnlySequence<byte> buffer, PipeWriter output)
    {
        try
        {
            return ProcessBatch(ref buffer, output);
        }
        finally
        {
            ReleaseLineScratch();
        }
    }

    private BatchOutcome ProcessBatch(ref ReadOnlySequence<byte> buffer, PipeWriter output)
    {
        while (true)
        {
            if (output.CanGetUnflushedBytes && output.UnflushedBytes > FlushThreshold)
            {
                return BatchOutcome.FlushAndContinue;
            }

            if (_swallowRemaining > 0)
            {
                var skip = Math.Min(_swallowRemaining, buffer.Length);
                buffer = buffer.Slice(skip);
                _swallowRemaining -= skip;
                if (_swallowRemaining > 0)
                {
                    return BatchOutcome.NeedMoreData;
                }

                if (_tooLargeReplyAfterSwallow)
                {
                    _tooLargeReplyAfterSwallow = false;
                    TextResponseWriter.Write(output, TextReplies.ObjectTooLarge);
                }
            }

            if (buffer.IsEmpty)
            {
                return BatchOutcome.NeedMoreData;
            }

            var step = ProcessOne(ref buffer, output);
            Gate.EndCommand();
            if (step != StepResult.Done)
            {
                return step switch
                {
                    StepResult.NeedMore => BatchOutcome.NeedMoreData,
                    StepResult.AwaitOperation => BatchOutcome.AwaitOperation,
                    _ => BatchOutcome.Close,
                };
            }
        }
    }

    private enum StepResult
    {
        Done,
        NeedMore,
        Close,
        AwaitOperation,
    }

    private StepResult ProcessOne(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output)
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
                return StepResult.Close;
            }

            return StepResult.NeedMore;
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
            return StepResult.Close;
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
            Reply(output, command.ErrorReply, command.NoReply);
            _swallowRemaining = command.SwallowLength;
            return StepResult.Done;
        }

        return Execute(ref command, output);
    }

    /// <summary>
    /// -Y's handshake, as memcached's try_read_command_asciiauth: a "set" line and its "user password" block
    /// authenticate; any other line is answered "unauthenticated"; a failure leaves the connection open to try again.
    /// </summary>
    private StepResult ProcessAuthentication(ref ReadOnlySequence<byte> buffer, IBufferWriter<byte> output)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            return buffer.Length > MaxLineLength ? StepResult.Close : StepResult.NeedMore;
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
            return StepResult.Done;
        }

        var blockLength = (long)length + 2;
        if (length > AsciiAuth.MaxTokenLength)
        {
            // As memcached 1.6.45: refused at once and nothing skipped, so an absurd length (2 GB) cannot hold the
            // connection waiting; whatever follows is read as lines, each answered "unauthenticated".
            buffer = rest;
            TextResponseWriter.Write(output, AsciiAuth.TokenTooLong);
            return StepResult.Done;
        }

        if (rest.Length < blockLength)
        {
            return StepResult.NeedMore;
        }

        buffer = rest.Slice(blockLength);
        if (!IsCrlf(rest.Slice(length, 2)))
        {
            TextResponseWriter.Write(output, AsciiAuth.BadTermination);
            return StepResult.Done;
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
                return _pendingDelay is null ? StepResult.Done : StepResult.AwaitOperation;
            }
        }

        TextResponseWriter.Write(output, reply);
        return StepResult.Done;
    }

    private StepResult ProcessStorage(ref ReadOnlySequence<byte> buffer, ReadOnlySequence<byte> rest, ref TextCommand command, IBufferWriter<byte> output)
    {
        var blockLength = (long)command.ByteCount + 2;
        var flags = command.Kind == TextCommandKind.MetaSet ? command.Meta.ClientFlags : command.Flags;
        if (!ItemLimits.Fits(command.Key.Length, command.ByteCount, flags, _context.Options.MaxItemSize))
        {
            // Refused before any memory is taken for it; the data streams past as it arrives.
            Counters.Increment(Counter.StoreTooLarge);
            bool refused = false;
            if (command.Kind == TextCommandKind.Set || (command.Kind == TextCommandKind.MetaSet && MetaSetMode(command.Meta.Mode) == StoreMode.Set))
            {
                refused = !Gate.TryDropOldValueOfOversizedSet(_store, command.Key, out var refusal);
                if (refused && !command.NoReply)
                {
                    WriteServerError(output, refusal);
                }
            }

            _tooLargeReplyAfterSwallow = !command.NoReply && !refused;
            buffer = rest;
            _swallowRemaining = blockLength;
            return StepResult.Done;
        }

        if (command.BareNewlineEndsData && rest.Length > command.ByteCount && ByteAt(rest, command.ByteCount) == (byte)'\n')
        {
            blockLength = command.ByteCount + 1;
        }
        else if (rest.Length < blockLength)
        {
            // The line is parsed again once the data block is complete; that is cheaper than keeping state.
            return StepResult.NeedMore;
        }

        buffer = rest.Slice(blockLength);
        var terminator = rest.Slice(command.ByteCount, blockLength - command.ByteCount);
        if (!IsCrlf(terminator))
        {
            Reply(output, TextReplies.BadDataChunk, command.NoReply);
            return StepResult.Done;
        }

        if (RefusedByLog(output, command.NoReply))
        {
            return StepResult.Done;
        }

        var data = rest.Slice(0, command.ByteCount);
        if (command.Kind == TextCommandKind.MetaSet)
        {
            ExecuteMetaSet(ref command, data, output);
            return StepResult.Done;
        }

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

        Reply(output, reply, command.NoReply);
        return StepResult.Done;
    }

    private StepResult Execute(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (command.Kind.Mutates() && RefusedByLog(output, command.NoReply))
        {
            return StepResult.Done;
        }

        // mg changes the item only when it touches (T) or vivifies (N).
        if (command.Kind == TextCommandKind.MetaGet && (command.Meta.Has('T') || command.Meta.Has('N')) && RefusedByLog(output, command.NoReply))
        {
            return StepResult.Done;
        }

        switch (command.Kind)
        {
            case TextCommandKind.Get:
            case TextCommandKind.Gets:
            case TextCommandKind.Gat:
            case TextCommandKind.Gats:
                ExecuteRetrieval(ref command, output);
                break;
            case TextCommandKind.Delete:
                var deleted = _store.Delete(command.Key) == DeleteResult.Deleted;
                Counters.Increment(deleted ? Counter.DeleteHits : Counter.DeleteMisses);
                _context.Prefixes.RecordDelete(command.Key);
                Reply(output, deleted ? TextReplies.Deleted : TextReplies.NotFound, command.NoReply);
                break;
            case TextCommandKind.Incr:
            case TextCommandKind.Decr:
                ExecuteArithmetic(ref command, output);
                break;
            case TextCommandKind.Touch:
                var touched = _store.Touch(command.Key, ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds));
                Counters.Increment(Counter.CmdTouch);
                Counters.Increment(touched ? Counter.TouchHits : Counter.TouchMisses);
                Reply(output, touched ? TextReplies.Touched : TextReplies.NotFound, command.NoReply);
                break;
            case TextCommandKind.FlushAll:
                ExecuteFlushAll(ref command, output);
                break;
            case TextCommandKind.Version:
                TextResponseWriter.Write(output, "VERSION "u8);
                TextResponseWriter.Write(output, Encoding.ASCII.GetBytes(ServerContext.Version));
                TextResponseWriter.Write(output, TextReplies.Crlf);
                break;
            case TextCommandKind.Verbosity:
                _context.Verbosity = (int)Math.Min(command.NumericArgument, 2u);
                Reply(output, TextReplies.Ok, command.NoReply);
                break;
            case TextCommandKind.Quit:
                return StepResult.Close;
            case TextCommandKind.Stats:
                _stats.Write(ref command.Tokens, output, Counters);
                break;
            case TextCommandKind.CacheMemlimit:
                ExecuteMemlimit(ref command, output);
                break;
            case TextCommandKind.Shutdown:
                return ExecuteShutdown(ref command, output);
            case TextCommandKind.MetaGet:
                ExecuteMetaGet(ref command, output);
                break;
            case TextCommandKind.MetaDelete:
                ExecuteMetaDelete(ref command, output);
                break;
            case TextCommandKind.MetaArithmetic:
                ExecuteMetaArithmetic(ref command, output);
                break;
            case TextCommandKind.MetaNoOp:
                TextResponseWriter.Write(output, MetaResponseWriter.NoOp);
                break;
            case TextCommandKind.MetaDebug:
                ExecuteMetaDebug(ref command, output);
                break;
            case TextCommandKind.Compact:
                if (_context.Durability is null)
                {
                    TextResponseWriter.Write(output, TextReplies.PersistenceOff);
                    return StepResult.Done;
                }

                _pendingOperation = _context.Durability.CompactAsync();
                return StepResult.AwaitOperation;
            case TextCommandKind.Replicate:
                return StartReplicationStream(ref command, output);
            case TextCommandKind.ReplicaOf:
                return ExecuteReplicaOf(ref command, output);
        }

        return StepResult.Done;
    }

    /// <summary>"replicate &lt;replid&gt; &lt;sequence&gt; [node-id]": from here this connection carries the log to a replica.</summary>
    private StepResult StartReplicationStream(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (_context.Replication is not { } replication)
        {
            WriteServerError(output, "replication needs the log (this server runs with --no-persist)");
            return StepResult.Done;
        }

        if (!AsciiNumber.TryParseUInt64(command.Tokens[2], out var sequence))
        {
            TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
            return StepResult.Done;
        }

        // No chains: two nodes each told to follow the other (a failover done in the wrong order) would ship each
        // other's full resyncs back and forth and wipe both. A replica asking here keeps retrying until this node leads.
        if (replication.State.IsReplica)
        {
            WriteServerError(output, "this node is a replica; replicate from its primary");
            return StepResult.Done;
        }

        var requestedId = Encoding.ASCII.GetString(command.Tokens[1]);
        var nodeId = command.Tokens.Count == 5 ? Encoding.ASCII.GetString(command.Tokens[3]) : null;
        var request = new Cairn.Replication.ReplicationRequest(requestedId, sequence, nodeId, Connection?.Remote);
        var stopping = _context.Stopping;
        _pendingStream = (input, stream) => replication.Primary.StreamAsync(input, stream, request, stopping);
        return StepResult.AwaitOperation;
    }

    /// <summary>"replicaof &lt;host&gt; &lt;port&gt;" follows that primary; "replicaof no one" promotes this node.</summary>
    private StepResult ExecuteReplicaOf(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (!_context.Options.ReplicaOfCommandEnabled)
        {
            TextResponseWriter.Write(output, TextReplies.ReplicaOfNotEnabled);
            return StepResult.Done;
        }

        if (_context.Replication is not { } replication)
        {
            WriteServerError(output, "replication needs the log (this server runs with --no-persist)");
            return StepResult.Done;
        }

        var first = Encoding.ASCII.GetString(command.Tokens[1]);
        var second = Encoding.ASCII.GetString(command.Tokens[2]);
        if (first.Equals("no", StringComparison.OrdinalIgnoreCase) && second.Equals("one", StringComparison.OrdinalIgnoreCase))
        {
            _pendingOperation = replication.PromoteAsync();
            return StepResult.AwaitOperation;
        }

        if (!int.TryParse(second, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
            return StepResult.Done;
        }

        _pendingOperation = replication.FollowAsync(first, port);
        return StepResult.AwaitOperation;
    }

    private void ExecuteRetrieval(ref TextCommand command, IBufferWriter<byte> output)
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

    private void ExecuteArithmetic(ref TextCommand command, IBufferWriter<byte> output)
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
                Reply(output, TextReplies.NotFound, command.NoReply);
                break;
            case ArithmeticResult.NonNumeric:
                Reply(output, TextReplies.NonNumericValue, command.NoReply);
                break;
            default:
                Reply(output, TextReplies.OutOfMemory, command.NoReply);
                break;
        }
    }

    private void ExecuteFlushAll(ref TextCommand command, IBufferWriter<byte> output)
    {
        Counters.Increment(Counter.CmdFlush);
        if (!_context.Options.FlushEnabled)
        {
            Reply(output, TextReplies.FlushDisabled, command.NoReply);
            return;
        }

        // A delay of zero or below means now, as in memcached; a positive one follows the exptime rules.
        var at = command.Exptime > 0 ? ExpiryTime.ToAbsolute(command.Exptime, _context.NowUnixSeconds) : 0;
        _store.FlushAll(at);
        Reply(output, TextReplies.Ok, command.NoReply);
    }

    private void ExecuteMemlimit(ref TextCommand command, IBufferWriter<byte> output)
    {
        var megabytes = command.NumericArgument;
        if (megabytes < 8)
        {
            Reply(output, TextReplies.MemlimitTooSmall, command.NoReply);
        }
        else if (megabytes > 1_000_000_000)
        {
            Reply(output, TextReplies.MemlimitNotBytes, command.NoReply);
        }
        else
        {
            _store.MemoryLimit = megabytes * 1024L * 1024L;
            Reply(output, TextReplies.Ok, command.NoReply);
        }
    }

    private StepResult ExecuteShutdown(ref TextCommand command, IBufferWriter<byte> output)
    {
        if (!_context.Options.ShutdownCommandEnabled)
        {
            TextResponseWriter.Write(output, TextReplies.ShutdownNotEnabled);
            return StepResult.Done;
        }

        if (command.Tokens.Count == 2 || (command.Tokens.Count == 3 && command.Tokens[1].SequenceEqual("graceful"u8)))
        {
            _context.RequestShutdown();
            return StepResult.Close;
        }

        TextResponseWriter.Write(output, TextReplies.InvalidShutdownMode);
        return StepResult.Done;
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
            WriteServerError(output, refusal);
        }

        return true;
    }

    private static void WriteServerError(IBufferWriter<byte> output, string reason)
    {
        TextResponseWriter.Write(output, TextReplies.ServerErrorPrefix);

        // A reason from the OS must not break the reply line.
        TextResponseWriter.Write(output, Encoding.ASCII.GetBytes(reason.ReplaceLineEndings(" ")));
        TextResponseWriter.Write(output, TextReplies.Crlf);
    }

    private static void Reply(IBufferWriter<byte> output, ReadOnlySpan<byte> reply, bool noReply)
    {
        if (!noReply)
        {
            TextResponseWriter.Write(output, reply);
        }
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

    /// <summary>Returned flags each meta reply may carry (the rest are ignored, as memcached does).</summary>
    private const string GetReturns = "Ockfstlh";
    private const string SetReturns = "Ocks";
    private const string ArithmeticReturns = "Octk";

    private static StoreMode MetaSetMode(byte mode) => mode switch
    {
        (byte)'E' => StoreMode.Add,
        (byte)'A' => StoreMode.Append,
        (byte)'P' => StoreMode.Prepend,
        (byte)'R' => StoreMode.Replace,
        _ => StoreMode.Set,
    };

    private static long TtlRemaining(long expiresAt, long now) => expiresAt == 0 ? -1 : Math.Max(expiresAt - now, 0);

    private void ExecuteMetaGet(ref TextCommand command, IBufferWriter<byte> output)
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

    private void ExecuteMetaSet(ref TextCommand command, in ReadOnlySequence<byte> data, IBufferWriter<byte> output)
    {
        ref var meta = ref command.Meta;
        var now = _context.NowUnixSeconds;
        var mode = MetaSetMode(meta.Mode);
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

    private void ExecuteMetaDelete(ref TextCommand command, IBufferWriter<byte> output)
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

    private void ExecuteMetaArithmetic(ref TextCommand command, IBufferWriter<byte> output)
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

    private void ExecuteMetaDebug(ref TextCommand command, IBufferWriter<byte> output)
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

    /// <summary>Writes each hit as a VALUE block while the store holds the item still.</summary>
    private readonly struct ValueWriter(IBufferWriter<byte> output, bool withCas) : IItemVisitor
    {
        public void Visit(scoped in ItemView item) =>
            TextResponseWriter.WriteValue(output, item.Key, item.Flags, item.Value, item.Cas, withCas);
    }
}
