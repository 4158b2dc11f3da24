using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Cairn.Storage.Log;

/// <summary>A segment named in the manifest. <see cref="Length"/> is the written length (the writer updates the current one).</summary>
internal sealed class SegmentInfo
{
    public SegmentInfo(ulong id, ushort kind, string path, long length)
    {
        Id = id;
        Kind = kind;
        Path = path;
        Length = length;
    }

    public ulong Id { get; }
    public ushort Kind { get; }
    public string Path { get; }
    public long Length { get; set; }
    public bool IsSnapshot => Kind == LogRecordCodec.KindSnapshot;
}

/// <summary>
/// File names in the data directory, the MANIFEST, and the durable-rename discipline: write a temp file, fsync it,
/// rename it into place, fsync the directory.
/// </summary>
internal static partial class SegmentFiles
{
    public const string ManifestName = "MANIFEST";
    public const string ManifestTempName = "MANIFEST.tmp";
    public const string LockName = "LOCK";
    public const string TempSuffix = ".tmp";

    private static readonly System.Buffers.SearchValues<char> LowerHexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");

    private const string ManifestFirstLine = "cairn-log-manifest 1";
    private const string ManifestChecksumPrefix = "crc32c ";

    public static string SegmentName(ulong id) => "log-" + id.ToString("x16", CultureInfo.InvariantCulture) + ".seg";

    /// <summary>Parses log-&lt;16 hex digits&gt;.seg exactly; anything else (torn-tail copies, temp files) is not a segment.</summary>
    public static bool TryParseSegmentName(string fileName, out ulong id)
    {
        id = 0;
        return fileName.Length == 24
            && fileName.StartsWith("log-", StringComparison.Ordinal)
            && fileName.EndsWith(".seg", StringComparison.Ordinal)
            && !fileName.AsSpan(4, 16).ContainsAnyExcept(LowerHexDigits)
            && ulong.TryParse(fileName.AsSpan(4, 16), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out id);
    }

    /// <summary>Temp files this code creates: MANIFEST.tmp and log-*.seg.tmp (a snapshot being written).</summary>
    public static bool IsOwnTempFile(string fileName) =>
        fileName == ManifestTempName
        || (fileName.EndsWith(TempSuffix, StringComparison.Ordinal) && TryParseSegmentName(fileName[..^TempSuffix.Length], out _));

    public static string EncodeManifest(IEnumerable<ulong> segmentIds)
    {
        var text = new StringBuilder();
        text.Append(ManifestFirstLine).Append('\n');
        foreach (ulong id in segmentIds)
        {
            text.Append(SegmentName(id)).Append('\n');
        }

        uint crc = Crc32C.Compute(Encoding.ASCII.GetBytes(text.ToString()));
        text.Append(ManifestChecksumPrefix).Append(crc.ToString("x8", CultureInfo.InvariantCulture)).Append('\n');
        return text.ToString();
    }

    /// <summary>The segment ids the manifest names, in order; null with a reason when it is damaged.</summary>
    public static List<ulong>? DecodeManifest(string text, out string? problem)
    {
        problem = null;
        int checksumAt = text.LastIndexOf(ManifestChecksumPrefix, StringComparison.Ordinal);
        if (!text.StartsWith(ManifestFirstLine + "\n", StringComparison.Ordinal) || checksumAt < 0 || !text.EndsWith('\n'))
        {
            problem = "it is not a cairn manifest (first line or checksum line missing)";
            return null;
        }

        var body = text[..checksumAt];
        var checksum = text[(checksumAt + ManifestChecksumPrefix.Length)..].TrimEnd('\n');
        if (!uint.TryParse(checksum, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint expected)
            || expected != Crc32C.Compute(Encoding.ASCII.GetBytes(body)))
        {
            problem = "its checksum does not match";
            return null;
        }

        var ids = new List<ulong>();
        foreach (var line in body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
        {
            if (!TryParseSegmentName(line, out ulong id) || (ids.Count > 0 && id <= ids[^1]))
            {
                problem = $"it names '{line}' out of order or not as a segment";
                return null;
            }

            ids.Add(id);
        }

        return ids;
    }

    /// <summary>Replaces MANIFEST durably: temp, fsync, rename, fsync the directory. <paramref name="afterRename"/> runs between the rename and the directory fsync.</summary>
    public static void WriteManifest(string directory, IEnumerable<ulong> segmentIds, Action<LogIoOperation>? beforeIo, Action? afterRename = null)
    {
        beforeIo?.Invoke(LogIoOperation.WriteManifest);
        var temp = Path.Combine(directory, ManifestTempName);
        var bytes = Encoding.ASCII.GetBytes(EncodeManifest(segmentIds));
        using (var handle = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            RandomAccess.Write(handle, bytes, 0);
            RandomAccess.FlushToDisk(handle);
        }

        File.Move(temp, Path.Combine(directory, ManifestName), overwrite: true);
        afterRename?.Invoke();
        FsyncDirectory(directory);
    }

    /// <summary>Creates a segment file holding just its header, fsynced. The caller names it in the manifest before writing records.</summary>
    public static SafeFileHandle CreateSegment(string path, ushort kind, ulong id, ulong previousSequence, ulong highestCas)
    {
        var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            Span<byte> header = stackalloc byte[LogRecordCodec.SegmentHeaderSize];
            LogRecordCodec.WriteSegmentHeader(header, kind, id, previousSequence, highestCas);
            RandomAccess.Write(handle, header, 0);
            RandomAccess.FlushToDisk(handle);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Makes renames, creations and deletions in <paramref name="directory"/> durable (a no-op where directories cannot be opened).</summary>
    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = Native.Open(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"could not open directory {directory} to fsync it: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        try
        {
            if (Native.Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory {directory} failed: {Marshal.GetLastPInvokeErrorMessage()}");
            }
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }

    /// <summary>
    /// Takes flock(LOCK_EX|LOCK_NB) on the open LOCK file. .NET already does this for FileShare.None on Unix unless
    /// file locking is switched off (DOTNET_SYSTEM_IO_DISABLEFILELOCKING); taking it here keeps the guarantee either way.
    /// </summary>
    public static bool TryFlock(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        const int LockExclusive = 2;
        const int LockNonBlocking = 4;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            return Native.Flock((int)handle.DangerousGetHandle(), LockExclusive | LockNonBlocking) == 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>A name for bytes moved aside that does not overwrite an earlier one: base.suffix-unixtime[-n].</summary>
    public static string AsideName(string path, string suffix, TimeProvider time)
    {
        var stem = $"{path}.{suffix}-{time.GetUtcNow().ToUnixTimeSeconds()}";
        var candidate = stem;
        for (int n = 1; File.Exists(candidate) || Directory.Exists(candidate); n++)
        {
            candidate = stem + "-" + n.ToString(CultureInfo.InvariantCulture);
        }

        return candidate;
    }

    private static partial class Native
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);

        [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
        public static partial int Flock(int fd, int operation);
    }
}
