namespace Cairn.Cli;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        // A reshard or backup stops at a safe point on the first Ctrl-C and says how to resume; every
        // other command, and a second Ctrl-C, ends the process as usual.
        using var interrupt = new CancellationTokenSource();
        var graceful = args.Contains("reshard", StringComparer.Ordinal) || args.Contains("backup", StringComparer.Ordinal);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = graceful && !interrupt.IsCancellationRequested;
            interrupt.Cancel();
        };
        return await CliApplication.RunAsync(args, Console.In, Console.Out, Console.Error, interrupt.Token);
    }
}
