using System.Diagnostics;
using System.Globalization;
using Cairn.Cli.Connection;
using Cairn.Replication;
using Cairn.Storage.Backup;
using Cairn.Storage.Log;
using Cairn.Storage.Recovery;

namespace Cairn.Cli.Commands;

/// <summary>
/// `cairn backup` (online, from a running server), `cairn restore` (offline, into a new data directory) and `cairn
/// verify` (offline: what a start on a data directory would do).
/// </summary>
internal static class BackupCommands
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);

    public static async Task<int> BackupAsync(ParsedArguments parsed, ServerAddress server, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        parsed.AllowOnly("backup");
        var directory = parsed.Positionals.Count == 2 ? parsed.Positionals[1] : throw new UsageException("usage: cairn backup [--server host:port] DIR");

        // An estimate for the progress line: the snapshot holds the live items, which stats counts.
        long expected;
        using (var connection = await ServerConnection.ConnectAsync(server))
        {
            var stats = await new CacheOperations(connection).StatsAsync(null);
            expected = long.TryParse(stats.FirstOrDefault(s => s.Name == "curr_items").Value, CultureInfo.InvariantCulture, out var items) ? items : 0;
        }

        BackupWriter writer;
        try
        {
            writer = BackupWriter.Create(directory);
        }
        catch (IOException problem)
        {
            throw new UsageException(problem.Message);
        }

        using (writer)
        {
            var clock = Stopwatch.StartNew();
            long received = 0, receivedBytes = 0;
            var download = Task.Factory.StartNew(
                () => SnapshotDownload.Run(server.Host, server.Port, (record, records, bytes) =>
                {
                    writer.Add(record);
                    Volatile.Write(ref received, records);
                    Volatile.Write(ref receivedBytes, bytes);
                }, cancellation),
                cancellation,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            await ProgressDisplay.RunAsync(error, download, expected, () =>
            {
                var records = Volatile.Read(ref received);
                return (records, Progress(records, expected, Volatile.Read(ref receivedBytes), clock.Elapsed));
            }, ProgressInterval);
            SnapshotDownloadResult result;
            try
            {
                result = await download;
            }
            catch (Exception) when (cancellation.IsCancellationRequested)
            {
                await error.WriteLineAsync($"cairn: interrupted; {directory} has no BACKUP.json and restores nothing: remove it and run again");
                return ExitCodes.Interrupted;
            }
            catch (Exception failure) when (failure is IOException or System.Net.Sockets.SocketException or InvalidDataException)
            {
                throw new ServerUnreachableException($"backup from {server} failed: {failure.Message}; {directory} has no BACKUP.json and restores nothing", failure);
            }

            var manifest = writer.Complete(server.ToString(), result.ReplicationId, result.CoversSequence, DateTimeOffset.UtcNow);
            await error.WriteLineAsync(Progress(manifest.Records, manifest.Records, manifest.Bytes, clock.Elapsed));
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"backup of {server} complete: {manifest.Records:N0} records ({manifest.Bytes / 1048576.0:0.0} MiB) as of sequence {manifest.CoversSequence} of {manifest.ReplicationId}, in {clock.Elapsed.TotalSeconds:0.0} s, into {directory}"));
            return ExitCodes.Success;
        }
    }

    public static async Task<int> RestoreAsync(ParsedArguments parsed, TextWriter output)
    {
        parsed.AllowOnly("restore", "data-dir");
        var directory = parsed.Positionals.Count == 2 ? parsed.Positionals[1] : throw new UsageException("usage: cairn restore DIR --data-dir D");
        var dataDirectory = parsed.Get("data-dir") ?? throw new UsageException("usage: cairn restore DIR --data-dir D (the data directory to create)");
        if (!Directory.Exists(directory))
        {
            throw new UsageException($"{directory} does not exist: give the directory `cairn backup` wrote");
        }

        var clock = Stopwatch.StartNew();
        BackupManifest manifest;
        try
        {
            manifest = BackupReader.Restore(directory, dataDirectory);
        }
        catch (IOException problem)
        {
            throw new UsageException(problem.Message);
        }

        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"restored {manifest.Records:N0} records (as of sequence {manifest.CoversSequence} of {manifest.Source}) into {dataDirectory} in {clock.Elapsed.TotalSeconds:0.0} s; start it with: cairn-server --data-dir {dataDirectory}"));
        return ExitCodes.Success;
    }

    public static async Task<int> VerifyAsync(ParsedArguments parsed, TextWriter output, TextWriter error)
    {
        parsed.AllowOnly("verify", "data-dir");
        var dataDirectory = parsed.Get("data-dir") ?? throw new UsageException("usage: cairn verify --data-dir D (a stopped server's data directory)");
        if (parsed.Positionals.Count > 1)
        {
            throw new UsageException($"unexpected argument '{parsed.Positionals[1]}'");
        }

        DataDirectoryCheckResult result;
        try
        {
            result = DataDirectoryCheck.Run(dataDirectory);
        }
        catch (DirectoryNotFoundException missing)
        {
            throw new UsageException($"--data-dir: {missing.Message}");
        }
        catch (DataDirectoryLockedException locked)
        {
            throw new UsageException($"--data-dir: {locked.Message} A running server's log changes under a check; verify it stopped, or verify a restored backup.");
        }

        var report = result.Report;
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"checked {dataDirectory}: {report.Segments} segments, {report.Records:N0} records, {report.Bytes / 1048576.0:0.0} MiB; every record replayed had a matching CRC"));
        if (result.Changes.Count > 0)
        {
            await output.WriteLineAsync("a start would first:");
            foreach (var change in result.Changes)
            {
                await output.WriteLineAsync("  - " + change);
            }
        }

        if (result.Refusal is not null)
        {
            await error.WriteLineAsync($"cairn: a start would refuse: {result.Refusal}");
            return ExitCodes.Damaged;
        }

        if (result.Changes.Count > 0)
        {
            await output.WriteLineAsync("and then serve every acknowledged write (nothing was changed now)");
            return ExitCodes.WouldRepair;
        }

        await output.WriteLineAsync("a start would change nothing");
        return ExitCodes.Success;
    }

    private static string Progress(long records, long expected, long bytes, TimeSpan elapsed)
    {
        var rate = elapsed.TotalSeconds > 0 ? records / elapsed.TotalSeconds : 0;
        var percent = expected > 0 ? Math.Min(100, 100.0 * records / expected) : 0;
        var eta = rate > 0 && expected > records ? TimeSpan.FromSeconds((expected - records) / rate).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "-";
        return string.Create(CultureInfo.InvariantCulture,
            $"backup: {records:N0} of ~{expected:N0} items ({percent:0}%), {bytes / 1048576.0:0.0} MiB, {rate:N0} items/s, ETA {eta}");
    }
}
