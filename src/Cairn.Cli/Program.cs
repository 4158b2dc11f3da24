namespace Cairn.Cli;

internal static class Program
{
    private static Task<int> Main(string[] args) => CliApplication.RunAsync(args, Console.In, Console.Out, Console.Error);
}
