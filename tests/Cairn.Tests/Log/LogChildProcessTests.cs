using System.Diagnostics;
using Cairn.Storage.Log;

namespace Cairn.Tests.Log;

/// <summary>
/// A second process: the lock must hold across processes, and a real SIGKILL in the middle of compaction must
/// leave a recoverable directory. The child is this test assembly started with a .NET startup hook
/// (<see cref="StartupHook"/>), which runs the scenario before Main and exits.
/// </summary>
public sealed class LogChildProcessTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Another_process_cannot_open_a_locked_directory()
    {
        using (new LogHarness(_directory.Path).Open())
        {
            var (exitCode, output) = await RunChildAsync(LogChildScenarios.LockProbe, crashAt: null);
            Assert.True(exitCode == LogChildScenarios.LockedExitCode, $"exit {exitCode}: {output}");
            Assert.Contains("another cairn-server", output);
        }

        var (freeCode, freeOutput) = await RunChildAsync(LogChildScenarios.LockProbe, crashAt: null);
        Assert.True(freeCode == LogChildScenarios.OpenedExitCode, $"exit {freeCode}: {freeOutput}");
    }

    [Fact]
    public async Task Kill_9_after_the_manifest_switch_recovers_the_full_state_without_strays()
    {
        var (exitCode, output) = await RunChildAsync(LogChildScenarios.Compact, CrashPoints.AfterManifest);

        // 137 = 128 + SIGKILL: the process died at the crash point, not by finishing.
        Assert.True(exitCode == 137, $"exit {exitCode}: {output}");
        var harness = new LogHarness(_directory.Path);
        using (var log = harness.Open())
        {
            Assert.Equal(LogChildScenarios.ExpectedModel().Describe(), LogModel.From(harness.Replayed).Describe());
            Assert.Contains(harness.Lines, line => line.Contains("removed", StringComparison.Ordinal));
            Assert.Equal(["LOCK", "MANIFEST", .. log.SegmentPaths().Select(p => Path.GetFileName(p)!)], _directory.Names());
        }
    }

    private async Task<(int ExitCode, string Output)> RunChildAsync(string scenario, string? crashAt)
    {
        var assembly = typeof(LogChildProcessTests).Assembly.Location;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(assembly);
        start.Environment["DOTNET_STARTUP_HOOKS"] = assembly;
        start.Environment[LogChildScenarios.ScenarioVariable] = scenario;
        start.Environment[LogChildScenarios.DirectoryVariable] = _directory.Path;
        if (crashAt is not null)
        {
            start.Environment[CrashPoints.Variable] = crashAt;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the child");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}

/// <summary>What the child process does, chosen by environment variables.</summary>
internal static class LogChildScenarios
{
    public const string ScenarioVariable = "CAIRN_LOG_TEST_CHILD";
    public const string DirectoryVariable = "CAIRN_LOG_TEST_DIRECTORY";
    public const string LockProbe = "lock-probe";
    public const string Compact = "compact";
    public const int LockedExitCode = 10;
    public const int OpenedExitCode = 11;
    public const int SurvivedExitCode = 12;
    public const int FailedExitCode = 13;

    private const int Seed = 21;
    private const int Before = 300;
    private const int During = 30;

    /// <summary>The state the compact scenario has acknowledged by the time it reaches any crash point after the snapshot.</summary>
    public static LogModel ExpectedModel()
    {
        var workload = new RandomWorkload(Seed);
        for (int i = 0; i < Before + During; i++)
        {
            workload.Step(null);
        }

        return workload.Model;
    }

    public static int Run(string scenario, string directory)
    {
        try
        {
            switch (scenario)
            {
                case LockProbe:
                    try
                    {
                        using (new LogHarness(directory).Open())
                        {
                            return OpenedExitCode;
                        }
                    }
                    catch (DataDirectoryLockedException error)
                    {
                        Console.Error.WriteLine(error.Message);
                        return LockedExitCode;
                    }

                case Compact:
                    // The default crash hook: CAIRN_CRASH_AT kills this process for real.
                    var options = new LogOptions { Directory = directory, Fsync = FsyncPolicy.EverySecond, SegmentSize = 8192 };
                    using (var log = AppendLog.Open(options, (scoped in LogRecord _) => { }, out _))
                    {
                        var workload = new RandomWorkload(Seed);
                        workload.RunAsync(log, Before).GetAwaiter().GetResult();
                        log.CompactAsync(writer =>
                        {
                            for (int i = 0; i < During; i++)
                            {
                                log.WaitForDurableAsync(workload.Step(log)).AsTask().GetAwaiter().GetResult();
                            }

                            workload.WriteSnapshot(writer);
                        }).GetAwaiter().GetResult();
                    }

                    return SurvivedExitCode;
                default:
                    return FailedExitCode;
            }
        }
        catch (Exception error)
        {
            Console.Error.WriteLine(error);
            return FailedExitCode;
        }
    }
}
