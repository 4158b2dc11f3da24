using System.Globalization;
using System.Security.Cryptography;

namespace Cairn.Replication;

/// <summary>
/// Where a node's replication identity lives in its data directory. A primary's replication id names its history: a
/// replica that asks with another id cannot continue from its position and gets a full resync. A replica keeps the
/// id it follows and the last primary sequence it holds durably, so it restarts from its own disk and resyncs partially.
/// </summary>
public static class ReplicationIdentity
{
    public const string PrimaryIdFile = "REPLID";
    public const string ReplicaPositionFile = "REPLICA";

    /// <summary>This node's own replication id, created on first use (40 hex digits, as Redis's).</summary>
    public static string LoadOrCreatePrimaryId(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, PrimaryIdFile);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (text.Length == 40)
            {
                return text;
            }
        }

        return CreatePrimaryId(dataDirectory);
    }

    /// <summary>A new history: written before the node takes its first write under it.</summary>
    public static string CreatePrimaryId(string dataDirectory)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        WriteDurably(Path.Combine(dataDirectory, PrimaryIdFile), id + "\n");
        return id;
    }

    /// <summary>The primary's id and the sequence this replica holds through, or (null, 0) for none.</summary>
    public static (string? ReplicationId, ulong Sequence) LoadReplicaPosition(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, ReplicaPositionFile);
        if (!File.Exists(path))
        {
            return (null, 0);
        }

        var parts = File.ReadAllText(path).Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            ? (parts[0], sequence)
            : (null, 0);
    }

    /// <summary>Written only after the records through <paramref name="sequence"/> are durable in the replica's own log.</summary>
    public static void SaveReplicaPosition(string dataDirectory, string replicationId, ulong sequence) =>
        WriteDurably(Path.Combine(dataDirectory, ReplicaPositionFile), string.Create(CultureInfo.InvariantCulture, $"{replicationId} {sequence}\n"));

    public static void ForgetReplicaPosition(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, ReplicaPositionFile);
        if (File.Exists(path))
        {
            // A file this code wrote: a promoted replica starts its own history.
            File.Delete(path);
        }
    }

    private static void WriteDurably(string path, string text)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }
}
