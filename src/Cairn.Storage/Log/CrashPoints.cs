using System.Diagnostics;

namespace Cairn.Storage.Log;

/// <summary>
/// Named moments inside compaction where crash tests stop the process. With CAIRN_CRASH_AT set to one of the
/// names the process kills itself (SIGKILL: no finally blocks, no flushing) when it reaches that moment.
/// </summary>
internal static class CrashPoints
{
    public const string Variable = "CAIRN_CRASH_AT";
    public const string AfterSeal = "compact-after-seal";
    public const string AfterSnapshotWrite = "compact-after-snapshot-write";
    public const string AfterSnapshotRename = "compact-after-snapshot-rename";
    public const string AfterManifest = "compact-after-manifest";
    public const string BeforeDelete = "compact-before-delete";
    public const string MidDelete = "compact-mid-delete";

    public static readonly string[] All = [AfterSeal, AfterSnapshotWrite, AfterSnapshotRename, AfterManifest, BeforeDelete, MidDelete];

    private static readonly string? Configured = Environment.GetEnvironmentVariable(Variable);

    public static void Default(string step)
    {
        if (Configured is not null && string.Equals(Configured, step, StringComparison.Ordinal))
        {
            Process.GetCurrentProcess().Kill();
        }
    }
}

/// <summary>Thrown by a test's crash hook to abandon an operation exactly where a kill would have; nothing tidies up after it.</summary>
internal sealed class SimulatedCrashException : Exception
{
    public SimulatedCrashException(string step)
        : base("simulated crash at " + step)
    {
        Step = step;
    }

    public string Step { get; }
}
