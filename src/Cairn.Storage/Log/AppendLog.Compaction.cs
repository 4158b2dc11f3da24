using System.Diagnostics;

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
public sealed partial class AppendLog
{
    /// <summary>
    /// Rewrites the log as one snapshot of the live items. <paramref name="snapshot"/> runs once, on a pool thread,
    /// after the seal; it must write every live item (and a pending delayed flush_all) through the writer.
    /// Appends and waits carry on throughout. Concurrent calls run one after the other.
    /// </summary>
    public Task CompactAsync(SnapshotSource snapshot, CancellationToken cancellationToken = default) =>
        CompactAsync(snapshot, afterSwitch: null, cancellationToken);

    /// <summary>
    /// As <see cref="CompactAsync(SnapshotSource, CancellationToken)"/>; <paramref name="afterSwitch"/> runs once MANIFEST names
    /// the snapshot and before the sealed segments are deleted, so whoever holds locations in them can move to the snapshot.
    /// </summary>
    public async Task CompactAsync(SnapshotSource snapshot, Action? afterSwitch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _compactionGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // A seal needs the writer, which is busy retrying a failed write: answer now rather than wait for the disk.
            if (_waiters.Failure is { } failure)
            {
                throw new LogWriteException("writes refused: " + failure.Message, failure);
            }

            using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposeCancellation.Token);
            long started = Stopwatch.GetTimestamp();
            var seal = await SealAsync(cancellation.Token).ConfigureAwait(false);
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

    private Task<SealResult> SealAsync(CancellationToken cancellationToken)
    {
        var request = new SealRequest();
        lock (_appendLock)
        {
            if (_closing)
            {
                ThrowClosed();
            }

            _sealRequest = request;
            Monitor.PulseAll(_appendLock);
        }

        return request.Task.WaitAsync(cancellationToken);
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

    private sealed class SealRequest
    {
        private readonly TaskCompletionSource<SealResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<SealResult> Task => _completion.Task;

        /// <summary>Set by the writer when it takes the request: the highest cas appended so far.</summary>
        public ulong HighestCas { get; set; }

        public void Complete(SealResult result) => _completion.TrySetResult(result);

        public void Fail(Exception error) => _completion.TrySetException(error);
    }

    private readonly record struct SealResult(ulong SealedId, ulong LastSequence, ulong HighestCas);
}
