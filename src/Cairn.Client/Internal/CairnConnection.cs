using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Cairn.Client.Internal;

/// <summary>
/// One socket shared by many callers: a writer loop batches queued requests into one send, a reader loop
/// matches replies to requests in strict FIFO order (memcached answers a connection's requests in order).
/// </summary>
internal sealed class CairnConnection : IAsyncDisposable
{
    private const int MaxBatchBytes = 64 * 1024;
    private readonly Socket _socket;
    private readonly string _server;
    private readonly Channel<PendingRequest> _outgoing =
        Channel.CreateUnbounded<PendingRequest>(new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly ConcurrentQueue<PendingRequest> _inFlight = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _writer;
    private readonly Task _reader;
    private Exception? _failure;

    private CairnConnection(Socket socket, string server)
    {
        _socket = socket;
        _server = server;
        _writer = Task.Run(WriteLoopAsync);
        _reader = Task.Run(ReadLoopAsync);
    }

    public bool IsAlive => Volatile.Read(ref _failure) is null;

    public static async Task<CairnConnection> ConnectAsync(string host, int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var server = $"{host}:{port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(host, port, cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new CairnServerUnavailableException(server, $"no connection within {timeout.TotalMilliseconds:0} ms", null);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new CairnServerUnavailableException(server, ex.Message, ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new CairnConnection(socket, server);
    }

    /// <summary>Queues a request; the task completes with its reply or fails when the connection does.</summary>
    public Task<Reply> SendAsync(PendingRequest request)
    {
        if (!_outgoing.Writer.TryWrite(request))
        {
            request.Completion.TrySetException(Failure());
        }

        return request.Completion.Task;
    }

    private CairnServerUnavailableException Failure() =>
        new CairnServerUnavailableException(_server, "the connection was lost", Volatile.Read(ref _failure));

    private async Task WriteLoopAsync()
    {
        var buffer = new byte[MaxBatchBytes];
        try
        {
            var reader = _outgoing.Reader;
            while (await reader.WaitToReadAsync(_stop.Token))
            {
                var length = 0;
                List<byte[]>? large = null;
                while (length < MaxBatchBytes && reader.TryRead(out var request))
                {
                    // Queued before it is sent, so the reader always finds the request a reply belongs to.
                    _inFlight.Enqueue(request);
                    if (large is not null || length + request.Payload.Length > buffer.Length)
                    {
                        large ??= [buffer[..length]];
                        large.Add(request.Payload);
                        length += request.Payload.Length;
                        continue;
                    }

                    request.Payload.CopyTo(buffer, length);
                    length += request.Payload.Length;
                }

                if (!IsAlive)
                {
                    FailInFlight();
                    return;
                }

                if (large is null)
                {
                    await _socket.SendAsync(buffer.AsMemory(0, length), SocketFlags.None, _stop.Token);
                }
                else
                {
                    foreach (var part in large)
                    {
                        await _socket.SendAsync(part, SocketFlags.None, _stop.Token);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            Fail(ex);
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[64 * 1024];
        var start = 0;
        var end = 0;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    if (start > 0)
                    {
                        Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                        end -= start;
                        start = 0;
                    }
                    else
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }
                }

                var read = await _socket.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    Fail(new EndOfStreamException("the server closed the connection"));
                    return;
                }

                end += read;
                while (start < end)
                {
                    if (!_inFlight.TryPeek(out var request))
                    {
                        Fail(new CairnProtocolException("the server sent a reply nobody asked for"));
                        return;
                    }

                    var consumed = ReplyParser.TryParse(buffer.AsSpan(start, end - start), request.Shape, out var reply);
                    if (consumed == 0)
                    {
                        break;
                    }

                    _inFlight.TryDequeue(out _);
                    start += consumed;
                    request.Completion.TrySetResult(reply!);
                }

                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or CairnProtocolException)
        {
            Fail(ex);
        }
    }

    private void Fail(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _failure, reason, null) is null)
        {
            _outgoing.Writer.TryComplete();
            _stop.Cancel();
            _socket.Dispose();
        }

        FailInFlight();
    }

    private void FailInFlight()
    {
        while (_outgoing.Reader.TryRead(out var queued))
        {
            queued.Completion.TrySetException(Failure());
        }

        while (_inFlight.TryDequeue(out var sent))
        {
            sent.Completion.TrySetException(Failure());
        }
    }

    public async ValueTask DisposeAsync()
    {
        Fail(new ObjectDisposedException(nameof(CairnConnection)));
        try
        {
            await Task.WhenAll(_writer, _reader);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }
}
