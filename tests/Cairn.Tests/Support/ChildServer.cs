using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Cairn.Tests.Support;

/// <summary>The real cairn-server executable as a child process, for signals, kill -9 and restarts.</summary>
public sealed partial class ChildServer : IDisposable
{
    private ChildServer(Process process, int port)
    {
        Process = process;
        Port = port;
    }

    public static string ServerDll => Path.Combine(AppContext.BaseDirectory, "cairn-server.dll");

    public Process Process { get; }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>Starts the server on a free port and waits for its "listening" line.</summary>
    public static async Task<ChildServer> StartAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(ServerDll);
        start.ArgumentList.Add("-p");
        start.ArgumentList.Add("0");
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start cairn-server");
        var seen = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var line = await process.StandardError.ReadLineAsync(timeout.Token);
            if (line is null)
            {
                await process.WaitForExitAsync(timeout.Token);
                throw new InvalidOperationException($"cairn-server exited ({process.ExitCode}) before listening:\n{string.Join('\n', seen)}");
            }

            seen.Add(line);
            var match = ListeningLine().Match(line);
            if (match.Success)
            {
                // Keep draining stderr so a chatty server never blocks on a full pipe.
                var server = new ChildServer(process, int.Parse(match.Groups[1].Value));
                server._errorLines.AddRange(seen);
                _ = DrainAsync(process.StandardError, server._errorLines);
                _ = DrainAsync(process.StandardOutput, server._errorLines);
                return server;
            }
        }
    }

    /// <summary>SIGKILL: no cleanup, no flush, exactly a crash.</summary>
    public async Task KillHardAsync()
    {
        Process.Kill(entireProcessTree: false);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Process.WaitForExitAsync(timeout.Token);
    }

    public async Task SignalAsync(string signal)
    {
        var (code, output) = await ExternalTool.RunAsync("kill", [$"-{signal}", Process.Id.ToString()], TimeSpan.FromSeconds(10));
        if (code != 0)
        {
            throw new InvalidOperationException(output);
        }
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }

        Process.Dispose();
    }

    private readonly List<string> _errorLines = [];

    /// <summary>What the server wrote so far, stderr and its log on stdout (the first 10,000 lines).</summary>
    public string[] ErrorLines()
    {
        lock (_errorLines)
        {
            return [.. _errorLines];
        }
    }

    private static async Task DrainAsync(StreamReader reader, List<string>? keep)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                if (keep is not null)
                {
                    lock (keep)
                    {
                        if (keep.Count < 10_000)
                        {
                            keep.Add(line);
                        }
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
    }

    [GeneratedRegex(@"listening on 127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}
