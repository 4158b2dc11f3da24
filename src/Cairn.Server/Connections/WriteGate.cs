using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// The one rule every protocol follows before it changes anything a restart would see: ask whether the log accepts
/// writes, and if it does, make the batch's replies wait for the log. A write the log refused changes nothing.
/// </summary>
public sealed class WriteGate(Hosting.ServerContext context)
{
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
    public bool TryAdmit(out string refusal)
    {
        if (context.Replication?.State.IsReplica == true)
        {
            refusal = ReadOnlyReplica;
            return false;
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
    public bool TryDropOldValueOfOversizedSet(IItemStore store, ReadOnlySpan<byte> key, out string refusal)
    {
        if (!TryAdmit(out refusal))
        {
            return false;
        }

        store.Delete(key);
        return true;
    }
}
