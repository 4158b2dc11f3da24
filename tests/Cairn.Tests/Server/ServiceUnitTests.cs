using Cairn.Server.Hosting;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>deploy/cairn.service stays true to the server it starts: its command line parses, and its limits agree.</summary>
public sealed class ServiceUnitTests
{
    private static readonly Dictionary<string, string> Unit = File.ReadAllLines(Path.Combine(ExternalTool.RepositoryRoot, "deploy", "cairn.service"))
        .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.StartsWith('#'))
        .Select(line => line.Split('=', 2))
        .GroupBy(parts => parts[0])
        .ToDictionary(group => group.Key, group => group.Last()[1]);

    [Fact]
    public void Exec_start_is_a_command_line_the_server_accepts_with_the_data_in_the_state_directory()
    {
        var argv = Unit["ExecStart"].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("/opt/cairn/cairn-server", argv[0]);

        var options = CommandLine.Parse(argv[1..]);

        Assert.Equal("/var/lib/" + Unit["StateDirectory"], options.DataDirectory);
        Assert.True(options.Persist);
        Assert.True(options.MaxConnections < int.Parse(Unit["LimitNOFILE"]), "-c must fit under LimitNOFILE with room for log segments");
        Assert.NotNull(options.MetricsPort);
    }

    [Fact]
    public void The_service_runs_as_a_dedicated_user_and_restarts_on_failure()
    {
        Assert.Equal("cairn", Unit["User"]);
        Assert.Equal("simple", Unit["Type"]);
        Assert.Equal("on-failure", Unit["Restart"]);
        Assert.Equal("SIGTERM", Unit["KillSignal"]);
    }
}
