using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Cairn.Cli.Connection;

namespace Cairn.Cli.Bench;

/// <summary>Counters every connection adds to, read by the progress line.</summary>
internal sealed class BenchTotals
{
    private long _operations;
    private long _errors;

    public long Operations => Interlocked.Read(ref _operations);

    public long Errors => Interlocked.Read(ref _errors);

    public void Add(long operations, long errors)
    {
        Interlocked.Add(ref _operations, operations);
        Interlocked.Add(ref _errors, errors);
    }
}

/// <summary>
/// One connection's closed loop: send a request or a pipeline of them, read and check every reply, record
/// each reply's latency from the moment its batch was sent. Every value is a function of its key, so a get
/// that hits can be checked byte for byte however the connections interleave.
/// </summary>
internal sealed class BenchWorker(BenchOptions options, KeyChooser keys, BenchTotals totals, int id) : IDisposable
{
    private readonly Random _random = new(id + 1);
    private readonly ArrayBufferWriter<byte> _request = new(4096);
    private readonly (bool IsSet, int Key)[] _batch = new (bool, int)[options.Pipeline];
    private readonly byte[] _keyPrefix = System.Text.Encoding.ASCII.GetBytes($"bench:{options.ValueSize}:");
    private Socket? _socket;
    private ReplyReader? _reader;

    public LatencyHistogram Latency { get; } = new();

    public long Errors { get; private set; }

    public long Sets { get; private set; }

    public long Gets { get; private set; }

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    /// <summary>Gets that got no value or miss: an error reply, or no reply at all.</summary>
    public long FailedGets { get; private set; }

    /// <summary>Why requests failed, by the server's error line or what happened to the connection.</summary>
    public Dictionary<string, long> ErrorReasons { get; } = new(StringComparer.Ordinal);

    public async Task ConnectAsync(IPEndPoint endPoint, CancellationToken cancellation)
    {
        _socket?.Dispose();
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endPoint, cancellation);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _reader = new ReplyReader(socket);
    }

    /// <summary>Waits for a Stopwatch timestamp: a timer for most of it, the last stretch on the thread, so schedules hold at sub-millisecond intervals.</summary>
    private static async ValueTask WaitUntilAsync(long due, CancellationToken abort)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
        if (left > TimeSpan.FromMilliseconds(3))
        {
            // Timers fire up to a couple of milliseconds late under load; the rest is yielded away, not slept.
            await Task.Delay(left - TimeSpan.FromMilliseconds(2), abort);
        }

        while (Stopwatch.GetTimestamp() < due && !abort.IsCancellationRequested)
        {
            await Task.Yield();
        }
    }

    /// <summary>Runs until the request count is sent or, with a duration, until <paramref name="deadline"/> (a Stopwatch timestamp).</summary>
    public async Task RunAsync(IPEndPoint endPoint, long deadline, CancellationToken abort)
    {
        var remaining = deadline != 0 ? long.MaxValue : options.RequestsPerConnection;
        var reconnected = false;

        // Open loop (--rate): each batch is due one interval after the last, whatever the server did meanwhile, and
        // its latency counts from when it was due; a connection starts at a random phase so they do not all fire at once.
        var interval = (long)(options.BatchInterval.TotalSeconds * Stopwatch.Frequency);
        var due = Stopwatch.GetTimestamp() + (interval > 0 ? Random.Shared.NextInt64(interval) : 0);
        while (remaining > 0 && (deadline == 0 || Stopwatch.GetTimestamp() < deadline) && !abort.IsCancellationRequested)
        {
            var count = (int)Math.Min(options.Pipeline, remaining);
            BuildBatch(count);
            var answered = 0;
            var errors = 0L;
            if (interval > 0)
            {
                await WaitUntilAsync(due, abort);
            }

            var started = interval > 0 ? due : Stopwatch.GetTimestamp();
            due += interval;
            try
            {
                await _socket!.SendAsync(_request.WrittenMemory, SocketFlags.None, abort);
                for (; answered < count; answered++)
                {
                    if (!await ReadReplyAsync(_batch[answered], abort))
                    {
                        errors++;
                        FailedGets += _batch[answered].IsSet ? 0 : 1;
                    }

                    Latency.Record(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                }
            }
            catch (Exception failure) when (failure is IOException or SocketException or OperationCanceledException or ServerReplyException)
            {
                // The stream is broken or out of step: the unanswered requests failed; carry on over a new connection once.
                errors += count - answered;
                CountReason(Describe(failure), count - answered);
                for (var i = answered; i < count; i++)
                {
                    FailedGets += _batch[i].IsSet ? 0 : 1;
                }

                var recovered = false;
                if (!reconnected && !abort.IsCancellationRequested)
                {
                    reconnected = true;
                    try
                    {
                        await ConnectAsync(endPoint, abort);
                        recovered = true;
                    }
                    catch (Exception again) when (again is SocketException or OperationCanceledException)
                    {
                    }
                }

                if (!recovered)
                {
                    var unsent = deadline != 0 ? 0 : remaining - count;
                    if (unsent > 0)
                    {
                        CountReason("not sent: the connection could not be re-opened", unsent);
                    }

                    Errors += errors + unsent;
                    totals.Add(count + unsent, errors + unsent);
                    return;
                }
            }

            Errors += errors;
            totals.Add(count, errors);
            if (deadline == 0)
            {
                remaining -= count;
            }
        }
    }

    public void Dispose() => _socket?.Dispose();

    private void BuildBatch(int count)
    {
        _request.ResetWrittenCount();
        for (var i = 0; i < count; i++)
        {
            var isSet = _random.Next(options.SetWeight + options.GetWeight) < options.SetWeight;
            var key = keys.Next(_random);
            _batch[i] = (isSet, key);
            var text = options.Protocol == BenchProtocol.Text;
            if (isSet)
            {
                Sets++;
                Write(text ? "set "u8 : "ms "u8);
                WriteKey(key);
                Write(text ? " 0 0 "u8 : " "u8);
                WriteNumber(options.ValueSize);
                Write("\r\n"u8);
                var value = _request.GetSpan(options.ValueSize)[..options.ValueSize];
                FillValue(key, value);
                _request.Advance(options.ValueSize);
                Write("\r\n"u8);
            }
            else
            {
                Gets++;
                Write(text ? "get "u8 : "mg "u8);
                WriteKey(key);
                Write(text ? "\r\n"u8 : " v\r\n"u8);
            }
        }
    }

    /// <summary>True for the expected reply, false for a wrong one that kept the stream in step; throws when it did not.</summary>
    private async ValueTask<bool> ReadReplyAsync((bool IsSet, int Key) request, CancellationToken abort)
    {
        var text = options.Protocol == BenchProtocol.Text;
        var line = await _reader!.ReadLineAsync(abort);
        if (request.IsSet)
        {
            if (line.Span.SequenceEqual(text ? "STORED"u8 : "HD"u8))
            {
                return true;
            }

            return IsErrorLine(line.Span) ? CountErrorLine(line.Span) : throw Desync(line.Span);
        }

        if (line.Span.SequenceEqual(text ? "END"u8 : "EN"u8))
        {
            Misses++;
            return true;
        }

        if (IsErrorLine(line.Span))
        {
            return CountErrorLine(line.Span);
        }

        var header = line.Span;
        var prefix = text ? "VALUE "u8 : "VA "u8;
        var lastSpace = header.LastIndexOf((byte)' ');
        if (!header.StartsWith(prefix) || !Utf8Parser.TryParse(header[(lastSpace + 1)..], out int size, out var used) || used != header.Length - lastSpace - 1)
        {
            throw Desync(header);
        }

        var correct = size == options.ValueSize && (!text || HeaderNamesKey(header, request.Key));
        var block = await _reader.ReadBlockAsync(size, abort);
        correct = correct && ValueMatches(request.Key, block.Span);
        if (text)
        {
            var end = await _reader.ReadLineAsync(abort);
            if (!end.Span.SequenceEqual("END"u8))
            {
                throw Desync(end.Span);
            }
        }

        if (!correct)
        {
            CountReason("a get returned a value other than the one set", 1);
            return false;
        }

        Hits++;
        return true;
    }

    /// <summary>`VALUE key 0 size`: the key asked for, flags 0.</summary>
    private bool HeaderNamesKey(ReadOnlySpan<byte> header, int key)
    {
        Span<byte> expected = stackalloc byte[64];
        "VALUE "u8.CopyTo(expected);
        var length = 6;
        _keyPrefix.CopyTo(expected[length..]);
        length += _keyPrefix.Length;
        Utf8Formatter.TryFormat(key, expected[length..], out var written);
        length += written;
        " 0 "u8.CopyTo(expected[length..]);
        length += 3;
        return header.StartsWith(expected[..length]);
    }

    /// <summary>Counts an error reply under its own words (memcached's say why: too large, out of memory...); always false.</summary>
    private bool CountErrorLine(ReadOnlySpan<byte> line)
    {
        CountReason("server replied " + System.Text.Encoding.UTF8.GetString(line[..Math.Min(line.Length, 80)]), 1);
        return false;
    }

    private void CountReason(string reason, long count) =>
        ErrorReasons[reason] = ErrorReasons.GetValueOrDefault(reason) + count;

    private static string Describe(Exception failure) => failure switch
    {
        ServerReplyException reply when reply.Message.Contains("Too many open connections", StringComparison.Ordinal)
            => "connection refused by the server's connection limit (its -c): ERROR Too many open connections",
        ServerReplyException reply => reply.Message,
        OperationCanceledException => "no reply before the run was aborted",
        SocketException socket => "connection failed: " + socket.Message,
        _ => "connection closed: " + failure.Message,
    };

    private static bool IsErrorLine(ReadOnlySpan<byte> line) =>
        line.SequenceEqual("ERROR"u8) || line.StartsWith("CLIENT_ERROR"u8) || line.StartsWith("SERVER_ERROR"u8);

    private static ServerReplyException Desync(ReadOnlySpan<byte> line) =>
        new("unexpected reply: " + System.Text.Encoding.UTF8.GetString(line[..Math.Min(line.Length, 80)]));

    private static void FillValue(int key, Span<byte> value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            value[i] = (byte)('a' + ((key + i) % 26));
        }
    }

    private static bool ValueMatches(int key, ReadOnlySpan<byte> value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] != (byte)('a' + ((key + i) % 26)))
            {
                return false;
            }
        }

        return true;
    }

    private void WriteKey(int key)
    {
        Write(_keyPrefix);
        WriteNumber(key);
    }

    private void WriteNumber(int number)
    {
        Utf8Formatter.TryFormat(number, _request.GetSpan(11), out var written);
        _request.Advance(written);
    }

    private void Write(ReadOnlySpan<byte> bytes) => _request.Write(bytes);
}
