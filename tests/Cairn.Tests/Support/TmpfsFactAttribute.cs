using System.Diagnostics;

namespace Cairn.Tests.Support;

/// <summary>Runs only where a tmpfs can be mounted (root with CAP_SYS_ADMIN, as in CI); skipped elsewhere unless CI requires it.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    public TmpfsFactAttribute()
    {
        // CI installs and runs everything as root; there a missing capability must fail, not skip.
        if (Environment.GetEnvironmentVariable(ExternalToolFactAttribute.RequireVariable) == "1")
        {
            return;
        }

        if (Unavailable.Value is { } reason)
        {
            Skip = reason;
        }
    }

    public static bool Mount(string mountPoint, string size) => Run("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mountPoint) == 0;

    public static bool MountReadOnly(string mountPoint) => Run("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mountPoint) == 0;

    public static void Unmount(string mountPoint) => Run("umount", "-l", mountPoint);

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return "mounting a tmpfs needs root on Linux";
        }

        var probe = Path.Combine(Path.GetTempPath(), "cairn-tmpfs-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(probe);
        try
        {
            if (!Mount(probe, "64k"))
            {
                return "mounting a tmpfs is not permitted here";
            }

            Unmount(probe);
            return null;
        }
        finally
        {
            try
            {
                Directory.Delete(probe);
            }
            catch (IOException)
            {
            }
        }
    }

    private static int Run(string command, params string[] arguments)
    {
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start)!;
            process.WaitForExit(30_000);
            return process.HasExited ? process.ExitCode : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
