namespace Cairn.Tests.Support;

/// <summary>
/// A test that drives an off-the-shelf client. It is skipped when the tool is missing, so `dotnet test`
/// passes on a bare machine; CI sets CAIRN_REQUIRE_EXTERNAL_TOOLS=1, and then a missing tool fails.
/// </summary>
public sealed class ExternalToolFactAttribute : FactAttribute
{
    public const string RequireVariable = "CAIRN_REQUIRE_EXTERNAL_TOOLS";

    public ExternalToolFactAttribute(params string[] requiredPaths)
    {
        if (Environment.GetEnvironmentVariable(RequireVariable) == "1")
        {
            return;
        }

        var missing = requiredPaths.FirstOrDefault(path => !ExternalTool.Exists(path));
        if (missing is not null)
        {
            Skip = $"{missing} is not installed (CI installs it and sets {RequireVariable}=1)";
        }
    }
}

/// <summary>As <see cref="ExternalToolFactAttribute"/>, for a theory.</summary>
public sealed class ExternalToolTheoryAttribute : TheoryAttribute
{
    public ExternalToolTheoryAttribute(params string[] requiredPaths)
    {
        if (Environment.GetEnvironmentVariable(ExternalToolFactAttribute.RequireVariable) == "1")
        {
            return;
        }

        var missing = requiredPaths.FirstOrDefault(path => !ExternalTool.Exists(path));
        if (missing is not null)
        {
            Skip = $"{missing} is not installed (CI installs it and sets {ExternalToolFactAttribute.RequireVariable}=1)";
        }
    }
}

public static class ExternalTool
{
    public static bool Exists(string path)
    {
        if (Path.IsPathRooted(path))
        {
            return File.Exists(path) || Directory.Exists(path);
        }

        var searchPath = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return searchPath.Split(Path.PathSeparator).Any(directory => File.Exists(Path.Combine(directory, path)));
    }

    /// <summary>The repository root, found from the test binaries' folder.</summary>
    public static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Cairn.slnx")))
            {
                directory = directory.Parent;
            }

            return directory?.FullName ?? throw new InvalidOperationException("Cairn.slnx not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Runs a command to completion within <paramref name="timeout"/>, returning its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new System.Diagnostics.ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
