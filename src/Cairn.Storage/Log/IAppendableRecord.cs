namespace Cairn.Storage.Log;

/// <summary>
/// Anything <see cref="AppendLog.Append{TRecord}"/> can append: its encoded length (checked before the log's lock is
/// taken), the CAS it carries, and how to encode itself under the sequence number the log assigns. One append routine
/// serves every kind, so a new kind of record needs no new locked method.
/// </summary>
public interface IAppendableRecord
{
    /// <summary>Bytes the record takes in the log; throws for a key or value the log cannot hold.</summary>
    int EncodedLength { get; }

    /// <summary>The CAS the record carries, which later CAS values must stay above; 0 for none.</summary>
    ulong CarriedCas { get; }

    void Encode(Span<byte> destination, ulong sequence);
}
