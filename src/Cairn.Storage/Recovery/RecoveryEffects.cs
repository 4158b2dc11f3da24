using Cairn.Storage.Log;

namespace Cairn.Storage.Recovery;

/// <summary>
/// Every change recovery makes to a data directory goes through here. Starting a server applies them
/// (<see cref="Applied"/>); `cairn verify` runs the same decisions with <see cref="Described"/>, which changes
/// nothing and says what a start would do, so the report and the start cannot disagree.
/// </summary>
internal abstract class RecoveryEffects
{
    /// <summary>Removes a file recovery proved adds nothing (its own temp files, copies it made, covered segments).</summary>
    public abstract void Remove(string path, string why);

    /// <summary>Renames a whole file aside (never deleted); returns the new name.</summary>
    public abstract string MoveAside(string path, string suffix, string why);

    /// <summary>
    /// Copies the bytes from <paramref name="offset"/> to a file aside, then cuts the segment there; returns the copy's
    /// name. Only a torn tail (never acknowledged) may be cut without a copy when none can be made (returns null).
    /// </summary>
    public abstract string? CutAt(string path, long offset, string suffix, string why, bool mayCutWithoutCopy);

    public abstract void WriteManifest(string directory, IEnumerable<ulong> segmentIds);

    public abstract void SyncDirectory(string directory);

    public static RecoveryEffects Applied(LogOptions options) => new AppliedEffects(options);

    /// <summary>What recovery would do, in order, as sentences; nothing on disk changes.</summary>
    public sealed class Described : RecoveryEffects
    {
        public List<string> Changes { get; } = [];

        public override void Remove(string path, string why) => Changes.Add($"remove {path} ({Length(path)} bytes): {why}");

        public override string MoveAside(string path, string suffix, string why)
        {
            Changes.Add($"move {path} ({Length(path)} bytes) aside as {path}.{suffix}-<time>: {why}");
            return $"{path}.{suffix}-<time>";
        }

        public override string? CutAt(string path, long offset, string suffix, string why, bool mayCutWithoutCopy)
        {
            Changes.Add($"cut {path} at offset {offset}, copying its last {Length(path) - offset} bytes aside as {path}.{suffix}-<time>: {why}");
            return $"{path}.{suffix}-<time>";
        }

        public override void WriteManifest(string directory, IEnumerable<ulong> segmentIds) =>
            Changes.Add($"rewrite {Path.Combine(directory, SegmentFiles.ManifestName)} to name {string.Join(", ", segmentIds.Select(SegmentFiles.SegmentName))}");

        public override void SyncDirectory(string directory)
        {
        }

        private static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
    }

    private sealed class AppliedEffects(LogOptions options) : RecoveryEffects
    {
        public override void Remove(string path, string why)
        {
            long length = new FileInfo(path).Length;
            File.Delete(path);
            StorageLog.RecoveryRemoved(options.Logger, path, length, why);
        }

        public override string MoveAside(string path, string suffix, string why)
        {
            var aside = SegmentFiles.AsideName(path, suffix, options.Time);
            long length = new FileInfo(path).Length;
            File.Move(path, aside);
            StorageLog.RecoveryMovedAside(options.Logger, path, length, aside, why);
            return aside;
        }

        public override string? CutAt(string path, long offset, string suffix, string why, bool mayCutWithoutCopy)
        {
            long cut = new FileInfo(path).Length - offset;
            try
            {
                var savedAs = CopyTailAside(path, offset, suffix);
                StorageLog.RecoveryCut(options.Logger, why, path, cut, offset, savedAs);
                return savedAs;
            }
            catch (IOException error) when (mayCutWithoutCopy)
            {
                // A full disk (the usual reason a write was torn) must not stop the restart: cut without a copy, and
                // put the first bytes in the log so they are not lost without a trace.
                var head = new byte[(int)Math.Min(64, cut)].AsSpan();
                using (var source = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
                {
                    head = head[..SegmentReader.ReadFully(source, head, offset)];
                    RandomAccess.SetLength(source, offset);
                    RandomAccess.FlushToDisk(source);
                }

                StorageLog.RecoveryCutWithoutCopy(options.Logger, why, path, cut, offset, error.Message, Convert.ToHexString(head));
                return null;
            }
        }

        public override void WriteManifest(string directory, IEnumerable<ulong> segmentIds) =>
            SegmentFiles.WriteManifest(directory, segmentIds, options.BeforeIo);

        public override void SyncDirectory(string directory) => SegmentFiles.FsyncDirectory(directory);

        /// <summary>Copies bytes [offset, end) of the segment to a new file beside it, fsyncs that, then cuts the segment at offset and fsyncs it.</summary>
        private string CopyTailAside(string path, long offset, string suffix)
        {
            var aside = SegmentFiles.AsideName(path, suffix, options.Time);
            using (var source = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
            {
                long length = RandomAccess.GetLength(source);
                try
                {
                    using var target = File.OpenHandle(aside, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                    var buffer = new byte[(int)Math.Min(1024 * 1024, Math.Max(length - offset, 1))];
                    for (long at = offset; at < length;)
                    {
                        int read = RandomAccess.Read(source, buffer, at);
                        if (read == 0)
                        {
                            break;
                        }

                        RandomAccess.Write(target, buffer.AsSpan(0, read), at - offset);
                        at += read;
                    }

                    RandomAccess.FlushToDisk(target);
                }
                catch
                {
                    // A copy that failed half-way (a full disk) is recovery's own file: remove it before giving up.
                    File.Delete(aside);
                    throw;
                }

                RandomAccess.SetLength(source, offset);
                RandomAccess.FlushToDisk(source);
            }

            SegmentFiles.FsyncDirectory(Path.GetDirectoryName(path)!);
            return aside;
        }
    }
}
