using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cairn.Storage.Backup;

/// <summary>
/// BACKUP.json: what a backup directory holds and how to check it. Written last (temp file, fsync, rename), so a
/// directory without it is an interrupted backup and is refused.
/// </summary>
public sealed record BackupManifest
{
    public const string FileName = "BACKUP.json";
    public const string ItemsFileName = "items.log";
    public const int CurrentFormat = 1;

    public required int Format { get; init; }

    /// <summary>The server the snapshot came from, as given to `cairn backup`.</summary>
    public required string Source { get; init; }

    /// <summary>The source's replication id and the log sequence the snapshot holds every item as of.</summary>
    public required string ReplicationId { get; init; }

    public required ulong CoversSequence { get; init; }

    public required long Records { get; init; }

    /// <summary>Length of items.log, and its SHA-256 in lowercase hex.</summary>
    public required long Bytes { get; init; }

    public required string Sha256 { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public string Serialize() => JsonSerializer.Serialize(this, Json);

    /// <summary>The manifest in <paramref name="directory"/>; a missing or unreadable one is a <see cref="BackupDamagedException"/>.</summary>
    public static BackupManifest Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            throw new BackupDamagedException(path, 0, "missing: the backup did not finish (the manifest is written last); take it again");
        }

        try
        {
            var manifest = JsonSerializer.Deserialize<BackupManifest>(File.ReadAllText(path), Json)
                ?? throw new BackupDamagedException(path, 0, "empty");
            return manifest.Format == CurrentFormat
                ? manifest
                : throw new BackupDamagedException(path, 0, $"format {manifest.Format}, but this cairn reads format {CurrentFormat}");
        }
        catch (JsonException error)
        {
            throw new BackupDamagedException(path, error.BytePositionInLine ?? 0, $"not a backup manifest: {error.Message}");
        }
    }
}

/// <summary>A backup directory that is incomplete or damaged: <see cref="Path"/> and <see cref="Offset"/> say where.</summary>
public sealed class BackupDamagedException(string path, long offset, string reason)
    : Exception($"{path} at offset {offset}: {reason}")
{
    public string Path { get; } = path;

    public long Offset { get; } = offset;
}
