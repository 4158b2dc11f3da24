using Cairn.Server.Hosting;

ServerOptions? options = null;
try
{
    options = CommandLine.Parse(args);
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
            $"from {Path.GetFullPath(options.DataDirectory)} in {recovered.Duration.TotalSeconds:F3} s; fsync {Cairn.Storage.Log.FsyncPolicyNames.ToFlag(options.Fsync)}");
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
    return StartupException.Usage;
}
catch (StartupException error)
{
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return error.ExitCode;
}
catch (Cairn.Storage.Log.LogCorruptionException error)
{
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return StartupException.DataError;
}
catch (Cairn.Storage.Log.DataDirectoryLockedException error)
{
    Console.Error.WriteLine($"cairn-server: {error.Message}");
    return StartupException.TemporaryFailure;
}
catch (IOException error)
{
    // The log failed to open for a reason CheckDataDirectory could not foresee (an I/O error reading it).
    Console.Error.WriteLine($"cairn-server: --data-dir {options?.DataDirectory}: {error.Message.ReplaceLineEndings(" ")}");
    return StartupException.OsError;
}
