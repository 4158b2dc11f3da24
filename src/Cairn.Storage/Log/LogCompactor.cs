using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Cairn.Storage.Log;

/// <summary>
/// Online compaction: (a) seal the current segment, so every later append lands after it; (b) write the caller's
/// live items as a snapshot segment (temp file, fsync, rename, fsync the directory) under the id the seal skipped;
/// (c) switch MANIFEST to the snapshot plus the segments after the seal; (d) delete the sealed segments.
/// A crash before (c) leaves the old manifest, which still names every sealed segment, and recovery deletes the
/// unnamed snapshot; a crash after (c) leaves sealed segments nobody names, which recovery deletes.
/// Replaying the snapshot and then the later segments is exact because records are effects: absolute Sets,
/// Deletes, Touches, flush_all by cas threshold and delayed flush by time.
/// </summary>
internal sealed class LogCompactor : IDisposable
{
    private readonly LogOptions _options;
    private readonly string _directory;
    private readonly ILogger _log;
    private readonly AppendBuffer _buffer;
    private readonly CommitWaiters _waiters;
    private readonly SegmentManifest _manifest;
    private readonly RecordLocator _locator;
    private readonly LogMeter _meter;
    private readonly CancellationToken _disposing;
    private readonly SemaphoreSlim _compactionGate = new(1, 1);
    private long _compactions;
    private long _lastCompactionTicks;

    public LogCompactor(LogOptions options, string directory, AppendBuffer buffer, CommitWaiters waiters, SegmentManifest manifest, RecordLocator locator, LogMeter meter, CancellationToken disposing)
    {
        _options = options;
        _directory = directory;
        _log = options.Logger;
        _buffer = buffer;
        _waiters = waiters;
        _manifest = manifest;
        _locator = locator;
        _meter = meter;
        _disposing = disposing;
    }

    public long Compactions => Interlocked.Read(ref _compactions);

    public TimeSpan LastCompactionDuration => TimeSpan.FromTicks(Interlocked.Read(ref _lastCompactionTicks));

    /// <summary>Waits for a compaction in progress to end; none starts after.</summary>
    public void Dispose()
    {
        _compactionGate.Wait();
        _compactionGate.Dispose();
    }

    /// <summary>
    /// Steps (a) to (d) above, the snapshot written on a pool thread; <paramref name="afterSwitch"/> runs once MANIFEST names
    /// the snapshot and before the sealed segments are deleted, so whoever holds locations in them can move to the snapshot.
    /// </summary>
    public async Task CompactAsync(SnapshotSource snapshot, Action? afterSwitch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        await _compactionGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A seal needs the writer, which is busy retrying a failed write: answer now rather than wait for the disk.
            if (_waiters.Failure is { } failure)
            {
                throw new LogWriteException("writes refused: " + failure.Message, failure);
            }

            using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing);
            long started = Stopwatch.GetTimestamp();
            var seal = await _buffer.RequestSeal(cancellation.Token).ConfigureAwait(false);
            var token = cancellation.Token;
            await Task.Factory.StartNew(
                () => CompactSealed(seal, snapshot, afterSwitch, token),
                token,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default).ConfigureAwait(false);
            Interlocked.Increment(ref _compactions);
            var took = Stopwatch.GetElapsedTime(started);
            Interlocked.Exchange(ref _lastCompactionTicks, took.Ticks);
            _meter.Compacted(took);
        }
        finally
        {
            _compactionGate.Release();
        }
    }

    private void CompactSealed(SealResult seal, SnapshotSource source, Action? afterSwitch, CancellationToken cancellationToken)
    {
        Crash(CrashPoints.AfterSeal);
        ulong snapshotId = seal.SealedId + 1;
        var finalPath = Path.Combine(_directory, SegmentFiles.SegmentName(snapshotId));
        var tempPath = finalPath + SegmentFiles.TempSuffix;
        bool renamed = false;
        bool switched = false;
        try
        {
            long snapshotLength;
            long snapshotRecords;
            _options.BeforeIo?.Invoke(LogIoOperation.WriteSnapshot);
            using (var handle = File.OpenHandle(tempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                var writer = new SnapshotWriter(handle, snapshotId, seal.LastSequence, seal.HighestCas, _options.BeforeIo, cancellationToken);
                source(writer);
                snapshotLength = writer.Complete();
                snapshotRecords = writer.Records;
                RandomAccess.FlushToDisk(handle);
            }

            Crash(CrashPoints.AfterSnapshotWrite);
            File.Move(tempPath, finalPath);
            renamed = true;
            SegmentFiles.FsyncDirectory(_directory);
            Crash(CrashPoints.AfterSnapshotRename);

            var snapshot = new SegmentInfo(snapshotId, LogRecordCodec.KindSnapshot, finalPath, snapshotLength);
            var sealedSegments = _manifest.ReplaceSealedPrefix(seal.SealedId, snapshot, afterRename: () =>
            {
                // From here the directory names the snapshot: the in-memory list follows even if the directory fsync fails.
                switched = true;
                Crash(CrashPoints.AfterManifest);
            });
            long removedBytes = sealedSegments.Sum(s => s.Length);
            afterSwitch?.Invoke();
            _locator.Forget(sealedSegments.Select(s => s.Id));
            Crash(CrashPoints.BeforeDelete);
            try
            {
                for (int i = 0; i < sealedSegments.Count; i++)
                {
                    File.Delete(sealedSegments[i].Path);
                    if (i == 0)
                    {
                        Crash(CrashPoints.MidDelete);
                    }
                }

                SegmentFiles.FsyncDirectory(_directory);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                // The new manifest is durable; sealed segments left behind are strays the next open deletes.
                StorageLog.CompactionLeftSegments(_log, error.Message);
            }
            StorageLog.Compacted(_log, sealedSegments.Count, removedBytes, snapshotLength, snapshotRecords, snapshotId);
        }
        catch (Exception error) when (error is not SimulatedCrashException && !switched)
        {
            // The old manifest still rules: the unnamed snapshot would only be deleted at the next open, so go now.
            TryDelete(tempPath);
            if (renamed)
            {
                TryDelete(finalPath);
            }

            StorageLog.CompactionFailed(_log, error.Message);
            throw;
        }
    }

    private void Crash(string step) => _options.CrashPoint(step);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            // Recovery deletes strays at the next open.
        }
    }
}
