using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Cairn.Storage.Log;

namespace Cairn.Storage.Recovery;

/// <summary>
/// Replays on two threads split by the store's shards. Replay is bound by memory (each record is a hash-chain walk into
/// an index too big for the cache, and a write to a fresh chunk), so a second core roughly halves it. The reading thread
/// applies the records whose key falls in the first half of the shards and hands the others, in batches, to a helper
/// that applies them in the order it got them: every key's records still apply in log order, because one thread owns
/// all of a key's records. A flush touches every shard, so the reader first waits for the helper to finish what it was
/// given; so does a record too large for a batch.
/// </summary>
internal sealed class SplitReplay : IDisposable
{
    private const int BatchSize = 4 * 1024 * 1024;
    private const int BatchCount = 4;

    private readonly SlabItemStore _store;
    private readonly LogRecordHandler _apply;
    private readonly BlockingCollection<Batch> _full = new(BatchCount);
    private readonly BlockingCollection<Batch> _free = new(BatchCount);
    private readonly Thread _helper;
    private Batch _filling;
    private Exception? _helperFailure;

    public SplitReplay(SlabItemStore store, LogRecordHandler apply)
    {
        _store = store;
        _apply = apply;
        for (int i = 0; i < BatchCount; i++)
        {
            _free.Add(new Batch());
        }

        _filling = _free.Take();
        _helper = new Thread(RunHelper) { IsBackground = true, Name = "cairn replay" };
        _helper.Start();
    }

    /// <summary>Only where a second core exists; on one core the hand-off would cost without anything running beside it.</summary>
    public static bool IsWorthwhile => Environment.ProcessorCount > 1;

    public void Apply(scoped in LogRecord record)
    {
        ThrowIfHelperFailed();
        if (record.Type is LogRecordType.Set or LogRecordType.Delete or LogRecordType.Touch)
        {
            if (_store.PartitionOf(record.Key, 2) == 0)
            {
                _apply(in record);
                return;
            }

            if (_filling.TryAdd(in record))
            {
                return;
            }

            Send();
            if (_filling.TryAdd(in record))
            {
                return;
            }
        }

        // A flush (every shard) or a record larger than a batch: applied here once the helper has caught up.
        Drain();
        _apply(in record);
    }

    /// <summary>Returns once every record handed over has been applied; rethrows what the helper failed with.</summary>
    public void Complete()
    {
        Drain();
        ThrowIfHelperFailed();
    }

    public void Dispose()
    {
        _full.CompleteAdding();
        _helper.Join();
        _full.Dispose();
        _free.Dispose();
    }

    private void Send()
    {
        _full.Add(_filling);
        _filling = _free.Take();
    }

    /// <summary>Holding every batch means the helper holds none: all it was given is applied.</summary>
    private void Drain()
    {
        if (_filling.Length > 0)
        {
            Send();
        }

        var held = new List<Batch>(BatchCount) { _filling };
        while (held.Count < BatchCount)
        {
            held.Add(_free.Take());
        }

        _filling = held[0];
        foreach (var batch in held.Skip(1))
        {
            _free.Add(batch);
        }
    }

    private void RunHelper()
    {
        foreach (var batch in _full.GetConsumingEnumerable())
        {
            try
            {
                if (_helperFailure is null)
                {
                    batch.ApplyAll(_apply);
                }
            }
            catch (Exception error)
            {
                Volatile.Write(ref _helperFailure, error);
            }
            finally
            {
                batch.Clear();
                _free.Add(batch);
            }
        }
    }

    private void ThrowIfHelperFailed()
    {
        if (Volatile.Read(ref _helperFailure) is { } failure)
        {
            throw new InvalidOperationException("replay failed on its second thread: " + failure.Message, failure);
        }
    }

    /// <summary>Records copied out of the segment buffer, which the reader reuses: a fixed header, then key and value.</summary>
    private sealed class Batch
    {
        private readonly byte[] _bytes = new byte[BatchSize];

        public int Length { get; private set; }

        public bool TryAdd(scoped in LogRecord record)
        {
            int header = Marshal.SizeOf<RecordHeader>();
            int size = header + record.Key.Length + record.Value.Length;
            if (Length + size > _bytes.Length)
            {
                return false;
            }

            var fields = new RecordHeader
            {
                Type = record.Type,
                Stale = record.Stale,
                KeyLength = (byte)record.Key.Length,
                ValueLength = record.Value.Length,
                Flags = record.Flags,
                Sequence = record.Sequence,
                ExpiresAt = record.ExpiresAt,
                Cas = record.Cas,
                StoredAt = record.StoredAt,
                Location = record.Location,
            };
            var target = _bytes.AsSpan(Length, size);
            MemoryMarshal.Write(target, in fields);
            record.Key.CopyTo(target[header..]);
            record.Value.CopyTo(target[(header + record.Key.Length)..]);
            Length += size;
            return true;
        }

        public void ApplyAll(LogRecordHandler apply)
        {
            int header = Marshal.SizeOf<RecordHeader>();
            for (int offset = 0; offset < Length;)
            {
                var fields = MemoryMarshal.Read<RecordHeader>(_bytes.AsSpan(offset));
                var key = _bytes.AsSpan(offset + header, fields.KeyLength);
                var value = _bytes.AsSpan(offset + header + fields.KeyLength, fields.ValueLength);
                var record = new LogRecord(fields.Type, fields.Sequence, key, value, fields.Flags, fields.ExpiresAt, fields.Cas, fields.StoredAt, 0, fields.Stale) { Location = fields.Location };
                apply(in record);
                offset += header + fields.KeyLength + fields.ValueLength;
            }
        }

        public void Clear() => Length = 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RecordHeader
    {
        public ulong Sequence;
        public long ExpiresAt;
        public ulong Cas;
        public long StoredAt;
        public long Location;
        public int ValueLength;
        public uint Flags;
        public LogRecordType Type;
        public bool Stale;
        public byte KeyLength;
    }
}
