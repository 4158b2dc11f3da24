using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Cairn.Protocol.Text;
using Cairn.Server.Connections;
using Cairn.Server.Hosting;
using Cairn.Server.Stats;
using Cairn.Storage.Log;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Transport;

/// <summary>
/// One plain connection on an <see cref="EventLoop"/>, touched only by that loop's thread. Readable: read, answer every
/// complete request, pass the acknowledgement barrier, send, all before the loop waits again. Two things take it off
/// that straight path: a barrier that cannot pass at once (another thread is writing the log) parks it until the log
/// says so, and a full socket send buffer stops its reading until the socket drains. A command that waits on something
/// of its own (compact, a replica's log stream) moves the connection off the loop onto the pipe loop for good.
/// </summary>
internal sealed class LoopConnection
{
    private readonly EventLoop _loop;
    private readonly Socket _socket;
    private readonly int _fd;
    private readonly ServerContext _context;
    private readonly ILogger _logger;
    private readonly ReplyBuffer _replies = new();
    private readonly Action _stop;
    private ConnectionInfo _info = null!;
    private IProtocolSession? _session;
    private readonly PendingRequest _pending;
    private HeldReplies? _held;
    private BatchOutcome _outcome;
    private uint _watching;
    private bool _parked;
    private bool _blocked;
    private bool _peerDone;
    private bool _stopRequested;
    private bool _closed;
    private bool _detached;
    private PipeReader? _detachedInput;

    public LoopConnection(EventLoop loop, Socket socket, ServerContext context, ILogger logger)
    {
        _loop = loop;
        _socket = socket;
        _fd = (int)socket.SafeHandle.DangerousGetHandle();
        _context = context;
        _logger = logger;
        _stop = Stop;

        // As Kestrel's limit was: a storage command is answered only once its whole data block is buffered.
        _pending = new PendingRequest(Math.Max(context.Options.MaxItemSize, context.Options.MaxGetLineLength) + (64 * 1024));
    }

    public ulong Token { get; private set; }

    public long Id => _info?.Id ?? 0;

    /// <summary>On the loop's thread: counts the connection in (or refuses it past -c) and starts watching it.</summary>
    public void Open()
    {
        System.Net.EndPoint? remote, local;
        try
        {
            remote = _socket.RemoteEndPoint;
            local = _socket.LocalEndPoint;
        }
        catch (SocketException)
        {
            // Reset between accept and here.
            _socket.Dispose();
            return;
        }

        if (!_context.Statistics.TryOpenConnection(_context.Options.MaxConnections))
        {
            // memcached's words, then close, so the client knows why rather than seeing a reset.
            LinuxSockets.Send(_fd, TextReplies.TooManyConnections);
            _context.Log.ConnectionRefused(remote);
            _socket.Dispose();
            return;
        }

        _info = _context.Connections.Add(remote, local, RequestStop, _context.NowUnixSeconds);
        _info.State = "conn_waiting";
        MemcachedConnectionHandler.LogOpened(_logger, _info.Id, _info.Remote);
        if (MemcachedConnectionHandler.ProtocolFor(_context, firstByte: null) is not null)
        {
            _session = MemcachedConnectionHandler.CreateSession(_context, _info, firstByte: null);
        }

        Token = _loop.Register(this, _fd);
        _watching = LinuxSockets.Readable;
    }

    public void OnEvents(uint events)
    {
        if (_closed || _detached)
        {
            return;
        }

        if (_parked)
        {
            // The client sent more while its batch waits: stop asking until the batch is answered.
            Watch(0);
            return;
        }

        if (_blocked)
        {
            if ((events & (LinuxSockets.Writable | LinuxSockets.Error | LinuxSockets.HangUp)) != 0 && SendReplies() && AfterBatch())
            {
                Answer(_pending.Bytes);
            }
        }
        else
        {
            ReadAndAnswer();
        }

        Watch();
    }

    /// <summary>Stop after the batch in progress (shutdown, or -o idle_timeout); from any thread.</summary>
    public void RequestStop()
    {
        if (Volatile.Read(ref _detachedInput) is { } input)
        {
            input.CancelPendingRead();
            return;
        }

        _loop.Post(_stop);
    }

    public void Stop()
    {
        _stopRequested = true;
        if (!_parked && !_blocked && !_detached)
        {
            Close();
        }
    }

    public void Close()
    {
        if (_closed || _detached)
        {
            return;
        }

        _closed = true;
        if (Token != 0)
        {
            _loop.Unregister(_fd, Token);
        }

        _socket.Dispose();
        _replies.Release();
        _pending.Release();
        EndSession();
    }

    private void ReadAndAnswer()
    {
        while (!_closed && !_parked && !_blocked && !_detached)
        {
            var into = _pending.IsEmpty ? _loop.ReceiveBuffer.AsSpan() : _pending.Room();
            if (into.IsEmpty)
            {
                // A request bigger than any command may be: nothing more can complete it.
                Close();
                return;
            }

            var read = LinuxSockets.Receive(_fd, into);
            if (read == -LinuxSockets.Interrupted)
            {
                continue;
            }

            if (read == -LinuxSockets.TryAgain)
            {
                return;
            }

            if (read < 0)
            {
                Close();
                return;
            }

            if (read == 0)
            {
                _peerDone = true;
                if (_pending.IsEmpty)
                {
                    Close();
                    return;
                }

                Answer(_pending.Bytes);
                return;
            }

            if (_pending.IsEmpty)
            {
                Answer(_loop.ReceiveBuffer.AsMemory(0, read));
            }
            else
            {
                _pending.Commit(read);
                Answer(_pending.Bytes);
            }

            if (read < into.Length)
            {
                // Level-triggered: a short read drained the socket, and anything that arrives since wakes the loop again.
                return;
            }
        }
    }

    /// <summary>
    /// Answers the complete requests in <paramref name="data"/> (the loop's buffer, or what was pending), then passes
    /// the barrier and sends, batch by batch; a request cut off at the end is kept for the next read.
    /// </summary>
    private void Answer(ReadOnlyMemory<byte> data)
    {
        _session ??= MemcachedConnectionHandler.CreateSession(_context, _info, data.Span[0]);
        while (true)
        {
            var unread = new ReadOnlySequence<byte>(data);
            var before = unread.Length;
            _held = _session.HeldReplies;
            _info.State = "conn_parse_cmd";
            _outcome = _session.Process(ref unread, (PipeWriter?)_held ?? _replies);
            var consumed = (int)(before - unread.Length);
            _session.Counters.Add(Counter.BytesRead, consumed);
            _pending.Keep(data.Span[consumed..]);

            string? refusal = null;
            if (_context.Durability is not null && _session.TakeWritesPending())
            {
                _info.State = "conn_io_queue";
                var barrier = AcknowledgementBarrier.PassAsync(_context, _held);
                if (!barrier.IsCompleted)
                {
                    Park(barrier);
                    return;
                }

                try
                {
                    refusal = barrier.Result;
                }
                catch (LogWriteException error)
                {
                    Unacknowledged(error);
                    return;
                }
            }

            _held?.ReleaseTo(_replies, refusal);
            if (!SendReplies() || !AfterBatch())
            {
                return;
            }

            data = _pending.Bytes;
        }
    }

    /// <summary>What the batch's outcome asks for once its replies are sent; true to answer the rest of the buffer now.</summary>
    private bool AfterBatch()
    {
        _info.State = "conn_waiting";
        switch (_outcome)
        {
            case BatchOutcome.FlushAndContinue when !_pending.IsEmpty:
                return true;
            case BatchOutcome.AwaitOperation:
                Detach();
                return false;
            case BatchOutcome.Close:
                Close();
                return false;
            default:
                if (_peerDone || _stopRequested)
                {
                    Close();
                }

                return false;
        }
    }

    /// <summary>Sends the replies; false when the socket could not take them all (or failed) and the connection must wait.</summary>
    private bool SendReplies()
    {
        if (_replies.IsEmpty)
        {
            _blocked = false;
            return true;
        }

        _info.State = "conn_mwrite";
        _session!.Counters.Add(Counter.BytesWritten, _blocked ? 0 : _replies.UnflushedBytes);
        switch (_replies.SendTo(_fd))
        {
            case ReplyBuffer.SendOutcome.Sent:
                _blocked = false;
                return true;
            case ReplyBuffer.SendOutcome.Blocked:
                _blocked = true;
                return false;
            default:
                Close();
                return false;
        }
    }

    private void Park(ValueTask<string?> barrier)
    {
        _parked = true;
        _ = ResumeWhenPassedAsync(barrier);
    }

    private async Task ResumeWhenPassedAsync(ValueTask<string?> barrier)
    {
        string? refusal = null;
        LogWriteException? failure = null;
        try
        {
            refusal = await barrier.ConfigureAwait(false);
        }
        catch (LogWriteException error)
        {
            failure = error;
        }

        _loop.Post(() => Resume(refusal, failure));
    }

    private void Resume(string? refusal, LogWriteException? failure)
    {
        _parked = false;
        if (_closed)
        {
            return;
        }

        if (failure is not null)
        {
            Unacknowledged(failure);
            return;
        }

        _held?.ReleaseTo(_replies, refusal);
        if (SendReplies() && AfterBatch())
        {
            Answer(_pending.Bytes);
        }

        Watch();
    }

    private void Unacknowledged(LogWriteException error)
    {
        // Never acknowledged, so nothing is lost: drop the connection with its replies unsent.
        MemcachedConnectionHandler.LogUnacknowledged(_logger, _info.Id, error.Message);
        Close();
    }

    /// <summary>
    /// Asks epoll for what the state needs: room to send, or readiness to read. A parked connection keeps what it had
    /// (a client at pipeline 1 sends nothing until answered, so parking costs no epoll_ctl) until an event says otherwise.
    /// </summary>
    private void Watch() => Watch(_parked ? _watching : _blocked ? LinuxSockets.Writable : LinuxSockets.Readable);

    private void Watch(uint wanted)
    {
        if (_closed || _detached)
        {
            return;
        }

        if (wanted != _watching)
        {
            _loop.Watch(_fd, wanted, Token);
            _watching = wanted;
        }
    }

    /// <summary>
    /// Leaves the loop for the pipe loop over a NetworkStream: the command's wait (and a replica's log stream) is written
    /// against pipes. Bytes already read and replies not yet sent go with it, in order.
    /// </summary>
    private void Detach()
    {
        _detached = true;
        _loop.Unregister(_fd, Token);
        var leftover = _pending.Bytes.ToArray();
        _pending.Release();
        var unsent = _replies.TakeUnsent();
        _loop.TrackDetached(Task.Run(() => RunDetachedAsync(leftover, unsent)));
    }

    private async Task RunDetachedAsync(byte[] leftover, byte[] unsent)
    {
        try
        {
            _socket.Blocking = true;
            await using var stream = new NetworkStream(_socket, ownsSocket: true);
            await stream.WriteAsync(unsent);
            var input = PipeReader.Create(new PrefixedStream(leftover, stream), new StreamPipeReaderOptions(leaveOpen: true));
            var output = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));
            Volatile.Write(ref _detachedInput, input);
            if (_stopRequested)
            {
                return;
            }

            if (await MemcachedConnectionHandler.CompletePendingAsync(_session!, input, output, _info))
            {
                await MemcachedConnectionHandler.RunPipeLoopAsync(_context, _logger, _session!, input, output, _info, _socket.Close);
            }
        }
        catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
        {
            // The peer went away.
        }
        finally
        {
            _socket.Dispose();
            EndSession();
        }
    }

    private void EndSession()
    {
        if (_info is null)
        {
            return;
        }

        MemcachedConnectionHandler.EndConnection(_context, _logger, _session, _info);
    }
}
