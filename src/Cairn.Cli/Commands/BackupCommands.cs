using System.Diagnostics;
using System.Globalization;
using Cairn.Cli.Connection;
using Cairn.Replication;
using Cairn.Storage.Backup;

namespace Cairn.Cli.Commands;

/// <summary>`cairn backup` (online, from a running server) and `cairn restore` (offline, into a new data directory).</summary>
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
            long lastReport = 0;
            var download = Task.Factory.StartNew(
                () => SnapshotDownload.Run(server.Host, server.Port, (record, records, bytes) =>
                {
                    writer.Add(record);
                    if (clock.ElapsedTicks - lastReport > ProgressInterval.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond)
                    {
                        lastReport = clock.ElapsedTicks;
                        error.WriteLine(Progress(records, expected, bytes, clock.Elapsed));
                    }
                }, cancellation),
                cancellation,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            SnapshotDownloadResult result;
            try
            {
                result = await download;
            }
            catch (Exception failure) when (cancellation.IsCancellationRequested)
            {
                _ = failure;
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

    private static string Progress(long records, long expected, long bytes, TimeSpan elapsed)
    {
        var rate = elapsed.TotalSeconds > 0 ? records / elapsed.TotalSeconds : 0;
        var percent = expected > 0 ? Math.Min(100, 100.0 * records / expected) : 0;
        var eta = rate > 0 && expected > records ? TimeSpan.FromSeconds((expected - records) / rate).ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "-";
        return string.Create(CultureInfo.InvariantCulture,
            $"backup: {records:N0} of ~{expected:N0} items ({percent:0}%), {bytes / 1048576.0:0.0} MiB, {rate:N0} items/s, ETA {eta}");
    }
}
