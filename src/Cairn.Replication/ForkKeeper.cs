using System.Globalization;
using Cairn.Storage.Durability;
using Microsoft.Extensions.Logging;

namespace Cairn.Replication;

/// <summary>
/// Keeps a node's own history aside when it must be replaced by a full resync: an old primary that returns after a
/// failover may hold writes the new primary never received (never acknowledged, or the failover would not have
/// elected that primary). They are discarded from the served data but copied, as torn tails are, so an operator can
/// still look at them. A node that only ever followed holds copies of someone else's writes, which need no keeping.
/// </summary>
public static class ForkKeeper
{
    public const string DirectoryPrefix = "forked-";

    /// <summary>How many kept histories stay; older ones (which this code wrote) go.</summary>
    public const int Kept = 8;

    public static void KeepAsideBeforeFullResync(DurableStore durable, string dataDirectory, string? followedId, ILogger log)
    {
        var records = durable.Log.LastAppendedSequence;
        if (followedId is not null || records == 0)
        {
            return;
        }

        durable.WaitForDurableAsync().AsTask().GetAwaiter().GetResult();
        var name = DirectoryPrefix + DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss.fff", CultureInfo.InvariantCulture);
        var target = Path.Combine(dataDirectory, name);
        Directory.CreateDirectory(target);
        long bytes = 0;
        foreach (var (_, path, _) in durable.Log.LiveSegments())
        {
            var copy = Path.Combine(target, Path.GetFileName(path));
            File.Copy(path, copy);
            bytes += new FileInfo(copy).Length;
        }

        var manifest = Path.Combine(dataDirectory, "MANIFEST");
        if (File.Exists(manifest))
        {
            File.Copy(manifest, Path.Combine(target, "MANIFEST"));
        }

        ReplicationLog.HistoryDiscarded(log, records, bytes, target);
        foreach (var old in Directory.GetDirectories(dataDirectory, DirectoryPrefix + "*").Order(StringComparer.Ordinal).SkipLast(Kept))
        {
            Directory.Delete(old, recursive: true);
        }
    }
}
