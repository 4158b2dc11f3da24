using Cairn.Tests.Log;

#pragma warning disable CA1050 // The runtime looks startup hooks up by this exact name, in no namespace.

/// <summary>
/// The .NET startup hook (DOTNET_STARTUP_HOOKS) that turns this test assembly into the log tests' child process:
/// it runs the scenario before Main and exits. Without the scenario variables it does nothing.
/// </summary>
internal static class StartupHook
{
    public static void Initialize()
    {
        var scenario = Environment.GetEnvironmentVariable(LogChildScenarios.ScenarioVariable);
        var directory = Environment.GetEnvironmentVariable(LogChildScenarios.DirectoryVariable);
        if (scenario is not null && directory is not null)
        {
            Environment.Exit(LogChildScenarios.Run(scenario, directory));
        }
    }
}
