using System.Buffers;
using System.Runtime.InteropServices;

namespace Cairn.Server.Transport;

/// <summary>
/// The bytes of a request cut off by the end of a read, kept for the next one. None is held while nothing is cut off.
/// A small one borrows from the shared pool; a large one (a big value arriving over many reads) lives in native
/// memory freed the moment it is done: the shared pool would keep such arrays and the GC return them only at some
/// later collection, so 300 connections that each parked a 2 MiB line left 770 MiB resident after they closed
/// (bench/connection_memory.py).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Release frees the native buffer; the connection calls it whenever it closes or leaves its loop, as it must for the pooled array too.")]
internal sealed class PendingRequest(int limit)
{
    private const int PooledLimit = 64 * 1024;

    private byte[]? _array;
    private NativeBuffer? _native;

    public bool IsEmpty => _array is null && _native is null;

    public int Length { get; private set; }

    /// <summary>The kept bytes.</summary>
    public ReadOnlyMemory<byte> Bytes => Whole[..Length];

    private Memory<byte> Whole => _array is not null ? _array : _native is not null ? _native.Memory : Memory<byte>.Empty;

    /// <summary>Keeps <paramref name="tail"/> (which may lie in this buffer itself) as the whole of what is pending.</summary>
    public void Keep(ReadOnlySpan<byte> tail)
    {
        if (tail.IsEmpty)
        {
            Release();
            return;
        }

        if (IsEmpty)
        {
            Allocate(Math.Max(tail.Length, 4096));
        }

        // Copying within one buffer moves the tail down, which Span.CopyTo handles when the two overlap.
        tail.CopyTo(Whole.Span);
        Length = tail.Length;
    }

    /// <summary>Free room after the kept bytes, grown (up to the largest request) when a quarter or less is left; empty at the limit.</summary>
    public Span<byte> Room()
    {
        var whole = Whole;
        if (whole.Length - Length <= whole.Length / 4 && whole.Length < limit)
        {
            var kept = whole[..Length];
            var oldArray = _array;
            var oldNative = _native;
            _array = null;
            _native = null;
            Allocate(Math.Min(whole.Length * 2, limit));
            kept.Span.CopyTo(Whole.Span);
            Free(oldArray, oldNative);
            whole = Whole;
        }

        return whole.Span[Length..Math.Min(whole.Length, limit)];
    }

    public void Commit(int read) => Length += read;

    public void Release()
    {
        Free(_array, _native);
        _array = null;
        _native = null;
        Length = 0;
    }

    private void Allocate(int size)
    {
        if (size <= PooledLimit)
        {
            _array = ArrayPool<byte>.Shared.Rent(size);
        }
        else
        {
            _native = new NativeBuffer(size);
        }
    }

    private static void Free(byte[]? array, NativeBuffer? native)
    {
        if (array is not null)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        ((IDisposable?)native)?.Dispose();
    }

    private sealed unsafe class NativeBuffer(int length) : MemoryManager<byte>
    {
        private byte* _pointer = (byte*)NativeMemory.Alloc((nuint)length);

        public override Span<byte> GetSpan() => new(_pointer, length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_pointer != null)
            {
                NativeMemory.Free(_pointer);
                _pointer = null;
            }
        }
    }
}
