using System.Security.Cryptography;
using Cairn.Storage.Log;

namespace Cairn.Storage.Backup;

/// <summary>
/// Writes a backup directory: items.log holds the snapshot's records exactly as the server's log encodes them (each
/// with its CRC, checked here before it is written), then BACKUP.json with the count, length and SHA-256.
/// </summary>
public sealed class BackupWriter : IDisposable
{
    private readonly string _directory;
    private readonly FileStream _items;
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    private BackupWriter(string directory, FileStream items)
    {
        _directory = directory;
        _items = items;
    }

    public long Records { get; private set; }

    public long Bytes => _items.Length;

    /// <summary>Starts a backup in <paramref name="directory"/>, which must be missing or empty.</summary>
    public static BackupWriter Create(string directory)
    {
        if (Directory.Exists(directory) && Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new IOException($"{directory} is not empty: a backup goes into a new or empty directory");
        }

        Directory.CreateDirectory(directory);
        var items = new FileStream(Path.Combine(directory, BackupManifest.ItemsFileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        return new BackupWriter(directory, items);
    }

    /// <summary>Adds one record as received; a record whose CRC does not check is refused, not written.</summary>
    public void Add(ReadOnlySpan<byte> record)
    {
        if (!LogRecords.TryDecode(record, out _))
        {
            throw new InvalidDataException($"record {Records + 1} failed its CRC check on arrival; nothing after it was written");
        }

        _items.Write(record);
        _sha256.AppendData(record);
        Records++;
    }

    /// <summary>Flushes and fsyncs items.log, then writes BACKUP.json durably: from then on the backup is complete.</summary>
    public BackupManifest Complete(string source, string replicationId, ulong coversSequence, DateTimeOffset now)
    {
        _items.Flush(flushToDisk: true);
        var manifest = new BackupManifest
        {
            Format = BackupManifest.CurrentFormat,
            Source = source,
            ReplicationId = replicationId,
            CoversSequence = coversSequence,
            Records = Records,
            Bytes = _items.Length,
            Sha256 = Convert.ToHexStringLower(_sha256.GetHashAndReset()),
            CreatedAt = now,
        };
        var path = Path.Combine(_directory, BackupManifest.FileName);
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            file.Write(System.Text.Encoding.UTF8.GetBytes(manifest.Serialize()));
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, path);
        SegmentFiles.FsyncDirectory(_directory);
        return manifest;
    }

    /// <summary>An unfinished backup keeps its partial items.log for inspection; without BACKUP.json it restores nothing.</summary>
    public void Dispose()
    {
        _items.Dispose();
        _sha256.Dispose();
    }
}
