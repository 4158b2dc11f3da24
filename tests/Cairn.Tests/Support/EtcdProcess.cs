using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cairn.Tests.Support;

/// <summary>A real etcd (Debian's etcd-server) on loopback ports of its own, with its own data directory.</summary>
public sealed class EtcdProcess : IDisposable
{
    private readonly string _directory;

    private EtcdProcess(Process process, string directory, int clientPort)
    {
        Process = process;
        _directory = directory;
        ClientPort = clientPort;
    }

    public Process Process { get; }

    public int ClientPort { get; }

    public string Url => $"http://127.0.0.1:{ClientPort}";

    public static async Task<EtcdProcess> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "cairn-etcd-" + Guid.NewGuid().ToString("N"));
        int client = FreePort(), peer = FreePort();
        var start = new ProcessStartInfo("etcd") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[]
        {
            "--name", "cairn-test", "--data-dir", directory,
            "--listen-client-urls", $"http://127.0.0.1:{client}", "--advertise-client-urls", $"http://127.0.0.1:{client}",
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"cairn-test=http://127.0.0.1:{peer}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start etcd");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var etcd = new EtcdProcess(process, directory, client);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        for (int i = 0; i < 100; i++)
        {
            try
            {
                if ((await http.GetStringAsync($"{etcd.Url}/health")).Contains("true", StringComparison.Ordinal))
                {
                    return etcd;
                }
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        etcd.Dispose();
        throw new InvalidOperationException("etcd did not become healthy within 10 s");
    }

    /// <summary>SIGSTOP / SIGCONT: etcd stops answering without closing its sockets, as a hung or partitioned one would.</summary>
    public async Task SignalAsync(string signal) =>
        await ExternalTool.RunAsync("kill", [$"-{signal}", Process.Id.ToString()], TimeSpan.FromSeconds(10));

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
