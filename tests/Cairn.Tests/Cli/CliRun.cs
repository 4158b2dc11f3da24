using Cairn.Cli;

namespace Cairn.Tests.Cli;

/// <summary>Runs `cairn` in process with scripted stdin and captured stdout/stderr.</summary>
internal static class CliRun
{
    public static async Task<(int Code, string Output, string Error)> RunAsync(string stdin, params string[] args)
    {
        using var input = new StringReader(stdin);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var run = CliApplication.RunAsync(args, input, output, error);
        var code = await run.WaitAsync(TimeSpan.FromSeconds(60));
        return (code, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    /// <summary>A loopback port nothing listens on: bound by the OS, then released.</summary>
    public static int ClosedPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
