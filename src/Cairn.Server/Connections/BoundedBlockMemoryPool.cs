using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Cairn.Server.Connections;

/// <summary>
/// The transport's buffer pool, with a ceiling on what it keeps. Kestrel's own pool keeps every 4 KiB block it ever
/// handed out and gives back a few percent every 10 s, so 300 connections that each parked a 2 MiB multi-get line
/// left 550 MiB resident long after they closed (bench/connection_memory.py). This one keeps at most
/// <see cref="MaxRetainedBytes"/> of returned blocks for reuse and lets the rest go to the GC at once.
/// Blocks are pinned, as Kestrel's are, so sockets read into them without pinning per operation.
/// </summary>
public sealed class BoundedBlockMemoryPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;

    /// <summary>Enough for a few thousand busy connections' in-flight buffers; what is above it after a burst is freed.</summary>
    public const long MaxRetainedBytes = 16L * 1024 * 1024;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _retained;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _retained);
            block.Leased = true;
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        _free.Clear();
    }

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _retained) <= MaxRetainedBytes / BlockSize)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _retained);
        }
    }

    private sealed class Block(BoundedBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        public Memory<byte> Memory { get; } = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public bool Leased { get; set; } = true;

        public void Dispose()
        {
            if (Leased)
            {
                Leased = false;
                pool.Return(this);
            }
        }
    }
}

/// <summary>Hands Kestrel's transports (sockets and TLS) the bounded pool instead of their own.</summary>
public sealed class BoundedBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new BoundedBlockMemoryPool();
}
