using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// The one rule every protocol follows before it changes anything a restart would see: ask whether the log accepts
/// writes, and if it does, make the batch's replies wait for the log. A write the log refused changes nothing.
/// </summary>
public sealed class WriteGate(Hosting.ServerContext context)
{
    /// <summary>Where the session writes its replies while writes need confirming by replicas or by etcd; else null.</summary>
    public HeldReplies? Held { get; } = context.Replication?.ConfirmsWrites == true ? new HeldReplies() : null;

    /// <summary>The session finished a command: a write it began has its whole reply now.</summary>
    public void EndCommand() => Held?.EndCommand();

    /// <summary>Set when the batch ran a command that may have changed what a restart sees.</summary>
    public bool WritesPending { get; private set; }

    /// <summary>Reads and clears <see cref="WritesPending"/>.</summary>
    public bool TakeWritesPending()
    {
        var pending = WritesPending;
        WritesPending = false;
        return pending;
    }

    /// <summary>What a replica answers to a write: its primary's log is the only writer.</summary>
    public const string ReadOnlyReplica = "replica is read-only";

    /// <summary>True when the write may go ahead (and the batch now waits for the log); else the reason to answer with.</summary>
    public bool TryAdmit(out string refusal) => TryAdmit(out refusal, binary: false, default, 0);

    /// <summary>A binary request's admission: its opcode and opaque let a refused confirmation answer it in its own frame.</summary>
    public bool TryAdmit(out string refusal, Cairn.Protocol.Binary.BinaryOpcode opcode, uint opaque) => TryAdmit(out refusal, binary: true, opcode, opaque);

    private bool TryAdmit(out string refusal, bool binary, Cairn.Protocol.Binary.BinaryOpcode opcode, uint opaque)
    {
        if (context.Replication is { } replication)
        {
            if (replication.State.IsReplica)
            {
                refusal = ReadOnlyReplica;
                return false;
            }

            if (replication.Fence?.RefusalReason is { } fenced)
            {
                refusal = "writes refused: " + fenced;
                return false;
            }
        }

        var durability = context.Durability;
        if (durability is null)
        {
            refusal = "";
            return true;
        }

        if (durability.IsAcceptingWrites)
        {
            WritesPending = true;
            Held?.BeginWrite(binary, opcode, opaque);
            refusal = "";
            return true;
        }

        refusal = "writes refused: " + (durability.FailureReason ?? "the log cannot be written");
        return false;
    }

    /// <summary>
    /// As memcached, a set refused for its size must not leave the key's old value behind; that removal is a write
    /// like any other. Returns false (nothing removed) when the log refuses it.
    /// </summary>
    public bool TryDropOldValueOfOversizedSet(IItemStore store, ReadOnlySpan<byte> key, out string refusal) =>
        TryDropOldValueOfOversizedSet(store, key, out refusal, binary: false, default, 0);

    /// <inheritdoc cref="TryDropOldValueOfOversizedSet(IItemStore, ReadOnlySpan{byte}, out string)"/>
    public bool TryDropOldValueOfOversizedSet(IItemStore store, ReadOnlySpan<byte> key, out string refusal, Cairn.Protocol.Binary.BinaryOpcode opcode, uint opaque) =>
        TryDropOldValueOfOversizedSet(store, key, out refusal, binary: true, opcode, opaque);

    private bool TryDropOldValueOfOversizedSet(IItemStore store, ReadOnlySpan<byte> key, out string refusal, bool binary, Cairn.Protocol.Binary.BinaryOpcode opcode, uint opaque)
    {
        if (!TryAdmit(out refusal, binary, opcode, opaque))
        {
            return false;
        }

        store.Delete(key);
        return true;
    }
}
