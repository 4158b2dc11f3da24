using System.Buffers;
using Cairn.Storage.Log;

namespace Cairn.Storage.Tiering;

/// <summary>
/// Values that are only on disk, read from the log's own records: the record at the item's location is read whole and
/// must pass its checksum and be the Set of this key with this CAS, or the value is not served. memcached's extstore
/// treats a bad read the same way (a miss, counted), which keeps every protocol's reply shape as it is.
/// </summary>
internal sealed class LogColdValues(AppendLog log) : IColdValueSource
{
    public ColdReadStatus Read(long location, ReadOnlySpan<byte> key, ulong cas, Span<byte> value)
    {
        int length = LogRecordCodec.SetLength(key.Length, value.Length);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var record = buffer.AsSpan(0, length);
            var status = log.ReadAt(location, record);
            if (status != ColdReadStatus.Read)
            {
                if (status == ColdReadStatus.Damaged)
                {
                    StorageLog.ColdValueDamaged(log.Logger, location, "the file ends before the record does");
                }

                return status;
            }

            string? problem = Verify(record, key, cas, value.Length, out var found);
            if (problem is not null)
            {
                StorageLog.ColdValueDamaged(log.Logger, location, problem);
                return ColdReadStatus.Damaged;
            }

            found.CopyTo(value);
            return ColdReadStatus.Read;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string? Verify(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> key, ulong cas, int valueLength, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (LogRecordCodec.PeekLength(bytes) != bytes.Length || !LogRecordCodec.TryDecode(bytes, out var record))
        {
            return "its checksum or length does not match";
        }

        if (record.Type != LogRecordType.Set || !record.Key.SequenceEqual(key))
        {
            return "the record there is not this key's";
        }

        if (record.Cas != cas || record.Value.Length != valueLength)
        {
            return "the record there is an older or newer version of the item";
        }

        value = record.Value;
        return null;
    }
}
