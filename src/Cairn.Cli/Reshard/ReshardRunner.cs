using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cairn.Cli.Connection;
using Cairn.Client;

namespace Cairn.Cli.Reshard;

/// <summary>
/// `cairn reshard`: reach every node first (so an unreachable one stops the run before anything changes), list
/// each node's keys, move those the new list places elsewhere, then list again to verify.
/// </summary>
internal sealed class ReshardRunner(ReshardOptions options, TextWriter output, TextWriter error)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(1);
    private readonly IReadOnlyList<KetamaServer> _nodes = options.AllNodes;
    private readonly KetamaRing _newRing = KetamaRing.Create(options.To, options.Mode);
    private readonly KetamaRing _oldRing = KetamaRing.Create(options.From, options.Mode);

    public async Task<int> RunAsync(CancellationToken cancellation)
    {
        var scanners = new List<ServerConnection>();
        try
        {
            foreach (var node in _nodes)
            {
                scanners.Add(await ServerConnection.ConnectAsync(ServerList.Address(node)));
            }

            var (plan, scanned) = await ScanAsync(scanners, cancellation);
            var moving = plan.Sum(p => (long)p.Keys.Count);
            await output.WriteLineAsync(Invariant(
                $"scanned {scanned:N0} items on {_nodes.Count} nodes: {moving:N0} change owner ({Percent(moving, scanned)})"));
            if (options.DryRun)
            {
                foreach (var pair in plan)
                {
                    await output.WriteLineAsync(Invariant($"  {pair.Keys.Count:N0} from {ServerList.Address(_nodes[pair.Source])} to {ServerList.Address(_nodes[pair.Destination])}"));
                }

                return ExitCodes.Success;
            }

            var counters = new ReshardCounters();
            await MoveAsync(plan, moving, counters, cancellation);
            await output.WriteLineAsync(Invariant(
                $"moved {counters.Moved:N0} items ({Mebibytes(counters.Bytes)}); {counters.KeptNewer:N0} kept the new owner's newer version"));
            await output.WriteLineAsync(Invariant(
                $"{counters.Vanished:N0} were deleted or expired meanwhile; {counters.LeftBehind:N0} kept changing and were left on their old owner"));

            var misplaced = await VerifyAsync(scanners, cancellation);
            if (misplaced == 0 && counters.LeftBehind == 0)
            {
                await output.WriteLineAsync("verified: every key is on the node the new list places it on");
                return ExitCodes.Success;
            }

            await error.WriteLineAsync(Invariant($"cairn: {misplaced:N0} keys are on a node the new list does not place them on; run the same command again"));
            return ExitCodes.Incomplete;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            await error.WriteLineAsync("cairn: interrupted; every item is on its old owner, its new owner or both: run the same command again to finish");
            return ExitCodes.Interrupted;
        }
        finally
        {
            scanners.ForEach(s => s.Dispose());
        }
    }

    private async Task<(List<PairPlan> Plan, long Scanned)> ScanAsync(List<ServerConnection> scanners, CancellationToken cancellation)
    {
        var listings = await Task.WhenAll(_nodes.Select((node, i) => KeyScanner.ListKeysAsync(scanners[i], ServerList.Address(node), cancellation)));
        var plan = new List<PairPlan>();
        var strays = 0L;
        for (var source = 0; source < _nodes.Count; source++)
        {
            var byDestination = new Dictionary<int, List<byte[]>>();
            foreach (var key in listings[source])
            {
                if (options.From.Any(f => f.Address == _nodes[source].Address)
                    && options.From[_oldRing.GetServer(key)].Address != _nodes[source].Address)
                {
                    strays++;
                }

                var destination = NodeIndex(options.To[_newRing.GetServer(key)]);
                if (destination != source)
                {
                    (byDestination.TryGetValue(destination, out var keys) ? keys : byDestination[destination] = []).Add(key);
                }
            }

            plan.AddRange(byDestination.Select(d => new PairPlan(source, d.Key, d.Value)));
        }

        if (strays > 0)
        {
            await output.WriteLineAsync(Invariant(
                $"note: {strays:N0} keys were not on the node --from places them on (an earlier interrupted run, or clients with another list); they move too"));
        }

        return (plan, listings.Sum(l => (long)l.Count));
    }

    private async Task MoveAsync(List<PairPlan> plan, long total, ReshardCounters counters, CancellationToken cancellation)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var movers = plan.Select(async pair =>
        {
            try
            {
                using var source = await ServerConnection.ConnectAsync(ServerList.Address(_nodes[pair.Source]));
                using var destination = await ServerConnection.ConnectAsync(ServerList.Address(_nodes[pair.Destination]));
                await new ItemMover(new MetaPipe(source), new MetaPipe(destination), counters)
                    .MoveAsync(pair.Keys, options.BatchSize, failed.Token);
            }
            catch (Exception) when (!failed.IsCancellationRequested)
            {
                // One node failing stops the others at their next batch, so the run ends promptly and says why.
                await failed.CancelAsync();
                throw;
            }
        }).ToArray();

        var all = Task.WhenAll(movers);
        var clock = Stopwatch.StartNew();
        await ProgressDisplay.RunAsync(error, all, total, () => (counters.Finished, ProgressLine(counters, total, clock.Elapsed)), ProgressInterval);

        try
        {
            await all;
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            // A mover stopped because another failed: report the failure, not the stop.
            throw movers.Select(m => m.Exception?.InnerException).First(e => e is not null and not OperationCanceledException)!;
        }

        await error.WriteLineAsync(ProgressLine(counters, total, clock.Elapsed));
    }

    private async Task<long> VerifyAsync(List<ServerConnection> scanners, CancellationToken cancellation)
    {
        var misplaced = 0L;
        for (var node = 0; node < _nodes.Count; node++)
        {
            foreach (var key in await KeyScanner.ListKeysAsync(scanners[node], ServerList.Address(_nodes[node]), cancellation))
            {
                var owner = options.To[_newRing.GetServer(key)];
                if (owner.Address != _nodes[node].Address && ++misplaced <= 10)
                {
                    await error.WriteLineAsync($"  {Printable(key)} is on {_nodes[node].Address}; the new list places it on {owner.Address}");
                }
            }
        }

        return misplaced;
    }

    private int NodeIndex(KetamaServer server)
    {
        for (var i = 0; i < _nodes.Count; i++)
        {
            if (_nodes[i].Address == server.Address)
            {
                return i;
            }
        }

        throw new InvalidOperationException($"{server.Address} is not among the nodes");
    }

    private static string ProgressLine(ReshardCounters counters, long total, TimeSpan elapsed)
    {
        var done = counters.Finished;
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var eta = rate > 0 ? TimeSpan.FromSeconds((total - done) / rate) : (TimeSpan?)null;
        return Invariant(
            $"moving: {done:N0} of {total:N0} items ({Percent(done, total)}), {Mebibytes(counters.Bytes)}, {rate:N0} items/s, ETA {(eta is { } e ? e.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : "-")}");
    }

    private static string Percent(long part, long whole) => whole == 0 ? "0%" : Invariant($"{100.0 * part / whole:0.#}%");

    private static string Mebibytes(long bytes) => Invariant($"{bytes / (1024.0 * 1024):0.0} MiB");

    private static string Printable(byte[] key) =>
        key.AsSpan().IndexOfAnyExceptInRange((byte)'!', (byte)'~') < 0 ? Encoding.ASCII.GetString(key) : "base64:" + Convert.ToBase64String(key);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The keys one node sends to one other.</summary>
    private sealed record PairPlan(int Source, int Destination, List<byte[]> Keys);
}
