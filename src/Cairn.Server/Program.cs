using Cairn.Server.Hosting;

// Requests are answered without blocking, so socket completions can run them on the epoll thread; measured
// with bench/compare_memcaslap.py this cuts server CPU per operation by about a fifth. Must precede any socket.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

try
{
    var options = CommandLine.Parse(args);
    if (options.ShowHelp)
    {
        Console.WriteLine(CommandLine.HelpText);
        return 0;
    }

    if (options.ShowVersion)
    {
        Console.WriteLine($"cairn-server {ServerContext.Version}");
        return 0;
    }

    await using var server = CairnServer.Create(options);
    await server.StartAsync();
    if (server.Context.Durability is { } durability)
    {
        var recovered = durability.Recovery;
        Console.Error.WriteLine(
            $"cairn-server: recovered {server.Context.Store.GetStatistics().CurrentItems} items from {recovered.Records} records ({recovered.Bytes} bytes, {recovered.Segments} segments) " +
            $"from {Path.GetFullPath(options.DataDirectory)} in {recovered.Duration.TotalSeconds:F3} s; fsync {options.Fsync}");
    }
    else
    {
        Console.Error.WriteLine("cairn-server: --no-persist: nothing is written to disk");
    }

    foreach (var ignored in options.IgnoredOptions)
    {
        Console.Error.WriteLine($"cairn-server: ignoring {ignored}");
    }

    Console.Error.WriteLine($"cairn-server {ServerContext.Version} listening on {string.Join(", ", server.EndPoints)}{(options.UnixSocketPath is null ? "" : $" unix:{options.UnixSocketPath}")}");
    await server.WaitForShutdownAsync();
    return 0;
}
catch (CommandLineException error)
{
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return 64;
}
catch (Cairn.Storage.Log.LogCorruptionException error)
{
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return 65;
}
catch (IOException error)
{
    // Includes a data directory locked by another server.
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return 71;
}
