using Cairn.Storage.Log;

namespace Cairn.Storage.Durability;

/// <summary>Turns the store's reported changes into log records; appends only buffer, the log's writer does the I/O.</summary>
internal sealed class LogJournal(AppendLog log) : IStoreJournal
{
    public void Stored(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, uint flags, long expiresAt, ulong cas, long storedAt, bool stale) =>
        log.Append(LogRecord.Set(key, value, flags, expiresAt, cas, storedAt, stale));

    public void Removed(ReadOnlySpan<byte> key) => log.Append(LogRecord.Delete(key));

    public void Touched(ReadOnlySpan<byte> key, long expiresAt) => log.Append(LogRecord.Touch(key, expiresAt));

    public void FlushedAll(ulong casUpTo) => log.Append(LogRecord.FlushAll(casUpTo));

    public void FlushScheduled(long atUnixSeconds) => log.Append(LogRecord.FlushDelayed(atUnixSeconds));
}
