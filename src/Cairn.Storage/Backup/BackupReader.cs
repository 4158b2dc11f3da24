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

        // Offsets are counted here rather than asked of the stream, which may ask the kernel each time.
        long fileLength = manifest.Bytes, offset = 0;
        var header = new byte[LogRecords.HeaderSize];
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long records = 0;
            for (; offset < fileLength; records++)
            {
                if (fileLength - offset < header.Length)
                {
                    throw new BackupDamagedException(path, offset, "a record cut short");
                }

                file.ReadExactly(header);
                int length = LogRecords.PeekLength(header);
                if (length < header.Length || offset + length > fileLength)
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
                offset += length;
            }

            return records == manifest.Records
                ? manifest
                : throw new BackupDamagedException(path, fileLength, $"{records} records, but the manifest says {manifest.Records}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Builds a data directory a server starts from, holding exactly the backup's items. Every record is checked first
    /// (nothing is created from a damaged backup); then items.log, which holds a snapshot's records in the log's own
    /// encoding, becomes the directory's one snapshot segment behind the header compaction would write, and MANIFEST
    /// names it. The server's recovery replays it like any compacted log.
    /// </summary>
    public static BackupManifest Restore(string directory, string dataDirectory)
    {
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new IOException($"{dataDirectory} is not empty: restore into a new or empty data directory (nothing there was changed)");
        }

        ulong highestCas = 0;
        var manifest = Read(directory, (scoped in LogRecord record) =>
        {
            if (record.Type is LogRecordType.Set or LogRecordType.FlushAll)
            {
                highestCas = Math.Max(highestCas, record.Cas);
            }
        });

        Directory.CreateDirectory(dataDirectory);
        const ulong SegmentId = 1;
        var segment = Path.Combine(dataDirectory, SegmentFiles.SegmentName(SegmentId));
        using (var output = new FileStream(segment, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            var header = new byte[LogRecordCodec.SegmentHeaderSize];
            LogRecordCodec.WriteSegmentHeader(header, LogRecordCodec.KindSnapshot, SegmentId, manifest.CoversSequence, highestCas);
            output.Write(header);
            using (var items = new FileStream(Path.Combine(directory, BackupManifest.ItemsFileName), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20))
            {
                items.CopyTo(output);
            }

            output.Flush(flushToDisk: true);
        }

        SegmentFiles.WriteManifest(dataDirectory, [SegmentId], beforeIo: null);
        SegmentFiles.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(dataDirectory)) ?? dataDirectory);
        return manifest;
    }
}
