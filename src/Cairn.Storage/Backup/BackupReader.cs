using System.Buffers;
using System.Security.Cryptography;
using Cairn.Storage.Log;

namespace Cairn.Storage.Backup;

/// <summary>
/// Reads a backup directory back, checking everything before anything is used: the manifest, the length and SHA-256
/// of items.log, and every record's CRC, the count included. Damage is reported with the file and offset.
/// </summary>
public static class BackupReader
{
    /// <summary>Checks the backup and hands each record to <paramref name="onRecord"/> in order; returns the manifest.</summary>
    public static BackupManifest Read(string directory, LogRecordHandler onRecord)
    {
        ArgumentNullException.ThrowIfNull(onRecord);
        var manifest = BackupManifest.Read(directory);
        var path = Path.Combine(directory, BackupManifest.ItemsFileName);
        if (!File.Exists(path))
        {
            throw new BackupDamagedException(path, 0, "missing; the manifest names it");
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        if (file.Length != manifest.Bytes)
        {
            throw new BackupDamagedException(path, Math.Min(file.Length, manifest.Bytes), $"{file.Length} bytes, but the manifest says {manifest.Bytes}");
        }

        using (var sha256 = SHA256.Create())
        {
            var digest = Convert.ToHexStringLower(sha256.ComputeHash(file));
            if (digest != manifest.Sha256)
            {
                throw new BackupDamagedException(path, 0, $"SHA-256 {digest} does not match the manifest's {manifest.Sha256}");
            }
        }

        file.Position = 0;
        var header = new byte[LogRecords.HeaderSize];
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long records = 0;
            while (file.Position < file.Length)
            {
                long offset = file.Position;
                if (file.Length - offset < header.Length)
                {
                    throw new BackupDamagedException(path, offset, "a record cut short");
                }

                file.ReadExactly(header);
                int length = LogRecords.PeekLength(header);
                if (length < header.Length || offset + length > file.Length)
                {
                    throw new BackupDamagedException(path, offset, "a record with an impossible length");
                }

                if (buffer.Length < length)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(length);
                }

                header.CopyTo(buffer, 0);
                file.ReadExactly(buffer, header.Length, length - header.Length);
                if (!LogRecords.TryDecode(buffer.AsSpan(0, length), out var record))
                {
                    throw new BackupDamagedException(path, offset, "a record fails its CRC check");
                }

                onRecord(record);
                records++;
            }

            return records == manifest.Records
                ? manifest
                : throw new BackupDamagedException(path, file.Length, $"{records} records, but the manifest says {manifest.Records}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Builds a data directory a server starts from, holding exactly the backup's items: every record is checked
    /// first (nothing is created from a damaged backup), then appended through the same log a replica writes with.
    /// </summary>
    public static BackupManifest Restore(string directory, string dataDirectory)
    {
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new IOException($"{dataDirectory} is not empty: restore into a new or empty data directory (nothing there was changed)");
        }

        _ = Read(directory, static (scoped in LogRecord _) => { });
        Directory.CreateDirectory(dataDirectory);
        using var log = AppendLog.Open(new LogOptions { Directory = dataDirectory, Fsync = FsyncPolicy.No }, static (scoped in LogRecord _) => { }, out _);
        long last = 0;
        var manifest = Read(directory, (scoped in LogRecord record) => last = log.Append(record));

        // Written before the log closes (which fsyncs), so a failed write surfaces here rather than as a short log.
        log.WaitForDurableAsync(last).AsTask().GetAwaiter().GetResult();
        return manifest;
    }
}
