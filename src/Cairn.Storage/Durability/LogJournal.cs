using Cairn.Storage.Log;
using Cairn.Storage.Tiering;

namespace Cairn.Storage.Durability;

/// <summary>Turns the store's reported changes into log records; appends only buffer, the log's writer does the I/O.</summary>
internal sealed class LogJournal(AppendLog log) : IStoreJournal
{
    public long Stored(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale)
    {
        long end = log.AppendThenWait(LogRecord.Set(key, value, flags, expiresAt, cas, storedAt, stale));
        return DiskLocation.Logical(end - LogRecordCodec.SetLength(key.Length, value.Length));
    }

    public void Removed(ReadOnlySpan<byte> key) => log.AppendThenWait(LogRecord.Delete(key));

    public void Touched(ReadOnlySpan<byte> key, long expiresAt) => log.AppendThenWait(LogRecord.Touch(key, expiresAt));

    public void FlushedAll(ulong casUpTo) => log.AppendThenWait(LogRecord.FlushAll(casUpTo));

    public void FlushScheduled(long atUnixSeconds) => log.AppendThenWait(LogRecord.FlushDelayed(atUnixSeconds));
}
