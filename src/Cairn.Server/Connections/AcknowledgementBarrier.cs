using Cairn.Server.Hosting;

namespace Cairn.Server.Connections;

/// <summary>
/// The one rule both transports follow: a batch's replies to its writes leave only once the log holds them as the
/// fsync policy promises and, while replication confirms writes, once the replicas and the lease do too.
/// </summary>
internal static class AcknowledgementBarrier
{
    /// <summary>
    /// Completes with null when the batch's writes may be acknowledged, with the refusal that replaces their replies
    /// when replication could not confirm them; faults with <see cref="Cairn.Storage.Log.LogWriteException"/> when the
    /// log could not be written. Completes at once, without allocating, when this thread wrote the batch itself.
    /// </summary>
    public static ValueTask<string?> PassAsync(ServerContext context, HeldReplies? held)
    {
        var durability = context.Durability!;
        var batchEnd = durability.Log.LastAppendedSequence;
        var durable = durability.WaitForDurableAsync();
        if (durable.IsCompletedSuccessfully && held is not { HasWrites: true })
        {
            return new ValueTask<string?>((string?)null);
        }

        return WaitAsync(context, durable, held, batchEnd);
    }

    private static async ValueTask<string?> WaitAsync(ServerContext context, ValueTask durable, HeldReplies? held, ulong batchEnd)
    {
        await durable;
        return held is { HasWrites: true } ? await context.Replication!.ConfirmAsync(batchEnd) : null;
    }
}
