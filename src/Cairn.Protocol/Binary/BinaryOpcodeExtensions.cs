namespace Cairn.Protocol.Binary;

public static class BinaryOpcodeExtensions
{
    /// <summary>Quiet variants send nothing on success (getq: nothing on a miss); errors are always sent.</summary>
    public static bool IsQuiet(this BinaryOpcode opcode) => opcode is BinaryOpcode.GetQ or BinaryOpcode.GetKQ
        or BinaryOpcode.SetQ or BinaryOpcode.AddQ or BinaryOpcode.ReplaceQ or BinaryOpcode.DeleteQ
        or BinaryOpcode.IncrementQ or BinaryOpcode.DecrementQ or BinaryOpcode.QuitQ or BinaryOpcode.FlushQ
        or BinaryOpcode.AppendQ or BinaryOpcode.PrependQ or BinaryOpcode.GatQ or BinaryOpcode.GatKQ;

    /// <summary>Opcodes whose body carries a value: set/add/replace/append/prepend and their quiet forms.</summary>
    public static bool IsStorage(this BinaryOpcode opcode) => opcode is BinaryOpcode.Set or BinaryOpcode.SetQ
        or BinaryOpcode.Add or BinaryOpcode.AddQ or BinaryOpcode.Replace or BinaryOpcode.ReplaceQ
        or BinaryOpcode.Append or BinaryOpcode.AppendQ or BinaryOpcode.Prepend or BinaryOpcode.PrependQ;

    /// <summary>Opcodes this server answers; any other is "Unknown command" with its body skipped.</summary>
    public static bool IsKnown(this BinaryOpcode opcode) => opcode is <= BinaryOpcode.Touch or BinaryOpcode.Gat
        or BinaryOpcode.GatQ or BinaryOpcode.GatK or BinaryOpcode.GatKQ;
}
