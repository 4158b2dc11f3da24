using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cairn.Tests.Support;
using Xunit.Abstractions;

namespace Cairn.Tests.Durability;

/// <summary>
/// The durability promise under fire: the server runs as a child process, concurrent writers set,
/// delete, incr, append and cas, and at a random moment it is killed with SIGKILL. After every restart
/// each key must hold its last acknowledged state, or the state of the one request that was in flight
/// (never anything else), and CAS values must keep growing. CAIRN_CRASH_ITERATIONS runs it longer.
/// </summary>
public class CrashLoopTests(ITestOutputHelper output)
{
    private const int Writers = 8;
    private const int KeysPerWriter = 40;

    [Fact]
    public Task Acknowledged_writes_survive_kill_9_in_every_fsync_mode() =>
        RunCrashLoopAsync(int.TryParse(Environment.GetEnvironmentVariable("CAIRN_CRASH_ITERATIONS"), out var n) ? n : 25, [], ballastKeys: 0);

    /// <summary>
    /// The same loop with one megabyte of item memory and 40,000 small items rewritten before the writers start each
    /// time, so the writers' keys share their slab class with far more items than fit: their values leave memory before
    /// the writers incr, append and cas them, and after each kill they are read back from disk.
    /// </summary>
    [Fact]
    public async Task Acknowledged_writes_survive_kill_9_with_values_on_disk_only()
    {
        var coldReads = await RunCrashLoopAsync(10, ["-m", "1"], ballastKeys: 40_000);
        Assert.True(coldReads >= Writers * KeysPerWriter / 2, $"the last check read only {coldReads} values from disk; cold values were barely in play");
    }

    /// <summary>Returns how many values the final check read from disk (cold_reads).</summary>
    private async Task<long> RunCrashLoopAsync(int iterations, string[] extraArgs, int ballastKeys)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cairn-crash-" + Guid.NewGuid().ToString("N"));
        var models = Enumerable.Range(0, Writers).Select(w => new WriterModel(w)).ToArray();
        var random = new Random(20261121);
        ulong highestCasSeen = 0;
        long acknowledged = 0;
        try
        {
            for (var iteration = 0; iteration < iterations; iteration++)
            {
                var mode = (iteration % 3) switch { 0 => "everysec", 1 => "always", _ => "no" };
                using var server = await ChildServer.StartAsync(["--data-dir", dataDirectory, "--fsync", mode, "--segment-size", "1", .. extraArgs]);
                if (ballastKeys > 0)
                {
                    await WriteBallastAsync(server.EndPoint, ballastKeys);
                }

                // Everything acknowledged before the previous crash must be here now.
                using (var checker = await LineClient.ConnectAsync(server.EndPoint))
                {
                    foreach (var model in models)
                    {
                        await model.VerifyAsync(checker, iteration);
                    }

                    var probe = await checker.SetAndGetsCasAsync("cas-probe", "x");
                    Assert.True(probe > highestCasSeen, $"iteration {iteration}: cas {probe} after restart is not above {highestCasSeen}");
                    highestCasSeen = probe;
                }

                using var stop = new CancellationTokenSource();
                var writers = models.Select(model => Task.Run(() => model.RunAsync(server.EndPoint, new Random(random.Next()), stop.Token))).ToArray();
                await Task.Delay(random.Next(200, 1200));
                await server.KillHardAsync();
                await stop.CancelAsync();
                foreach (var writer in writers)
                {
                    var (ops, maxCas) = await writer;
                    acknowledged += ops;
                    highestCasSeen = Math.Max(highestCasSeen, maxCas);
                }
            }

            // One last restart to check the final crash too.
            using var last = await ChildServer.StartAsync(["--data-dir", dataDirectory, .. extraArgs]);
            if (ballastKeys > 0)
            {
                await WriteBallastAsync(last.EndPoint, ballastKeys);
            }

            using var finalChecker = await LineClient.ConnectAsync(last.EndPoint);
            foreach (var model in models)
            {
                await model.VerifyAsync(finalChecker, iterations);
            }

            var onDiskOnly = await finalChecker.StatAsync("items_on_disk_only");
            var coldReads = long.Parse(await finalChecker.StatAsync("cold_reads"), CultureInfo.InvariantCulture);
            output.WriteLine($"{iterations} kill -9 iterations, {acknowledged} acknowledged writes, 0 lost; last check: {onDiskOnly} items on disk only, {coldReads} read from disk");
            Assert.True(acknowledged > iterations * Writers, "the writers barely ran; the test proved nothing");
            return coldReads;
        }
        finally
        {
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }

    private static async Task WriteBallastAsync(IPEndPoint endPoint, int keys)
    {
        using var client = await LineClient.ConnectAsync(endPoint);
        const int Pipeline = 500;
        for (int start = 0; start < keys; start += Pipeline)
        {
            var batch = new StringBuilder();
            for (int i = start; i < start + Pipeline; i++)
            {
                batch.Append(CultureInfo.InvariantCulture, $"set b{i} 0 0 8\r\nballast!\r\n");
            }

            await client.SendAsync(batch.ToString());
            for (int i = 0; i < Pipeline; i++)
            {
                Assert.Equal("STORED", await client.ReadLineAsync());
            }
        }
    }

    /// <summary>One writer's keys: what was acknowledged, and what the one in-flight request would make it.</summary>
    private sealed class WriterModel(int writer)
    {
        private readonly Dictionary<string, string?> _confirmed = [];
        private readonly Dictionary<string, uint> _flags = [];
        private string? _inFlightKey;
        private string? _inFlightValue;
        private uint _inFlightFlags;
        private long _sequence;

        public async Task<(long Ops, ulong MaxCas)> RunAsync(IPEndPoint endPoint, Random random, CancellationToken stop)
        {
            long ops = 0;
            ulong maxCas = 0;
            try
            {
                using var client = await LineClient.ConnectAsync(endPoint);
                while (!stop.IsCancellationRequested)
                {
                    var key = $"w{writer}:k{random.Next(KeysPerWriter)}";
                    var current = _confirmed.GetValueOrDefault(key);
                    var flags = _flags.GetValueOrDefault(key);
                    var op = random.Next(10);
                    if (op < 4 || current is null)
                    {
                        var value = op == 3 ? random.Next(100).ToString(CultureInfo.InvariantCulture) : $"v{writer}-{++_sequence}";
                        var newFlags = (uint)random.Next(1000);
                        Expect(key, value, newFlags);
                        await client.SendAsync($"set {key} {newFlags} 0 {value.Length}\r\n{value}\r\n");
                        Assert.Equal("STORED", await client.ReadLineAsync());
                    }
                    else if (op < 5)
                    {
                        Expect(key, null, 0);
                        await client.SendAsync($"delete {key}\r\n");
                        Assert.Equal("DELETED", await client.ReadLineAsync());
                    }
                    else if (op < 7 && ulong.TryParse(current.Trim(), out var number))
                    {
                        var result = (number + 7).ToString(CultureInfo.InvariantCulture);
                        Expect(key, Pad(result, current.Length), flags);
                        await client.SendAsync($"incr {key} 7\r\n");
                        Assert.Equal(result, await client.ReadLineAsync());
                    }
                    else if (op < 8)
                    {
                        Expect(key, current + "+a", flags);
                        await client.SendAsync($"append {key} 0 0 2\r\n+a\r\n");
                        Assert.Equal("STORED", await client.ReadLineAsync());
                    }
                    else
                    {
                        var cas = await client.GetsCasAsync(key);
                        maxCas = Math.Max(maxCas, cas);
                        var value = $"c{writer}-{++_sequence}";
                        Expect(key, value, flags);
                        await client.SendAsync($"cas {key} {flags} 0 {value.Length} {cas}\r\n{value}\r\n");
                        Assert.Equal("STORED", await client.ReadLineAsync());
                    }

                    Acknowledge();
                    ops++;
                }
            }
            catch (Exception error) when (error is IOException or SocketException or EndOfStreamException or ObjectDisposedException or OperationCanceledException)
            {
                // The kill: whatever was in flight may or may not have happened.
            }

            return (ops, maxCas);
        }

        public async Task VerifyAsync(LineClient client, int iteration)
        {
            foreach (var (key, expected) in _confirmed)
            {
                var (actual, actualFlags) = await client.GetAsync(key);
                var matchesConfirmed = actual == expected && (actual is null || actualFlags == _flags[key]);
                var matchesInFlight = key == _inFlightKey && actual == _inFlightValue && (actual is null || actualFlags == _inFlightFlags);
                Assert.True(matchesConfirmed || matchesInFlight, $"iteration {iteration}: {key} is '{actual}' (flags {actualFlags}), acknowledged '{expected}' (flags {_flags[key]})" + (key == _inFlightKey ? $", in flight '{_inFlightValue}'" : string.Empty));
                if (!matchesConfirmed)
                {
                    // The in-flight request did land: it is the state from now on.
                    _confirmed[key] = actual;
                    _flags[key] = actualFlags;
                }
            }

            if (_inFlightKey is not null && !_confirmed.ContainsKey(_inFlightKey))
            {
                var (actual, actualFlags) = await client.GetAsync(_inFlightKey);
                Assert.True(actual is null || (actual == _inFlightValue && actualFlags == _inFlightFlags), $"{_inFlightKey} holds '{actual}', never acknowledged");
                if (actual is not null)
                {
                    _confirmed[_inFlightKey] = actual;
                    _flags[_inFlightKey] = actualFlags;
                }
            }

            _inFlightKey = null;
        }

        private void Expect(string key, string? value, uint flags)
        {
            _inFlightKey = key;
            _inFlightValue = value;
            _inFlightFlags = flags;
        }

        private void Acknowledge()
        {
            _confirmed[_inFlightKey!] = _inFlightValue;
            _flags[_inFlightKey!] = _inFlightFlags;
            _inFlightKey = null;
        }

        private static string Pad(string digits, int length) => digits.Length < length ? digits.PadRight(length) : digits;
    }
}

/// <summary>A small line-oriented memcached client for tests that must survive the server dying.</summary>
public sealed class LineClient : IDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private LineClient(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: false) { ReadTimeout = 10_000, WriteTimeout = 10_000 };
    }

    public static async Task<LineClient> ConnectAsync(IPEndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(endPoint, timeout.Token);
        return new LineClient(socket);
    }

    public async Task SendAsync(string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _stream.WriteAsync(Encoding.ASCII.GetBytes(text), timeout.Token);
    }

    public async Task<string> ReadLineAsync()
    {
        var line = new StringBuilder();
        while (true)
        {
            while (_start < _end)
            {
                var b = _buffer[_start++];
                if (b == '\n')
                {
                    return line.ToString().TrimEnd('\r');
                }

                line.Append((char)b);
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            _start = 0;
            _end = await _stream.ReadAsync(_buffer, timeout.Token);
            if (_end == 0)
            {
                throw new EndOfStreamException("server closed the connection");
            }
        }
    }

    /// <summary>One value from "stats".</summary>
    public async Task<string> StatAsync(string name)
    {
        await SendAsync("stats\r\n");
        string? found = null;
        for (var line = await ReadLineAsync(); line != "END"; line = await ReadLineAsync())
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && parts[1] == name)
            {
                found = parts[2];
            }
        }

        return found ?? throw new InvalidOperationException($"stats has no {name}");
    }

    public async Task<(string? Value, uint Flags)> GetAsync(string key)
    {
        await SendAsync($"get {key}\r\n");
        var header = await ReadLineAsync();
        if (header == "END")
        {
            return (null, 0);
        }

        var parts = header.Split(' ');
        Assert.Equal("VALUE", parts[0]);
        var value = await ReadLineAsync();
        Assert.Equal("END", await ReadLineAsync());
        return (value, uint.Parse(parts[2], CultureInfo.InvariantCulture));
    }

    public async Task<ulong> GetsCasAsync(string key)
    {
        await SendAsync($"gets {key}\r\n");
        var header = await ReadLineAsync();
        var parts = header.Split(' ');
        Assert.Equal("VALUE", parts[0]);
        await ReadLineAsync();
        Assert.Equal("END", await ReadLineAsync());
        return ulong.Parse(parts[4], CultureInfo.InvariantCulture);
    }

    public async Task<ulong> SetAndGetsCasAsync(string key, string value)
    {
        await SendAsync($"set {key} 0 0 {value.Length}\r\n{value}\r\n");
        Assert.Equal("STORED", await ReadLineAsync());
        return await GetsCasAsync(key);
    }

    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
    }
}
