namespace Cairn.Protocol.Binary;

/// <summary>Response status codes (the header's bytes 6-7 in a response).</summary>
public enum BinaryStatus : ushort
{
    NoError = 0x0000,
    KeyNotFound = 0x0001,
    KeyExists = 0x0002,
    ValueTooLarge = 0x0003,
    InvalidArguments = 0x0004,
    ItemNotStored = 0x0005,
    NonNumeric = 0x0006,
    AuthenticationError = 0x0020,
    UnknownCommand = 0x0081,
    OutOfMemory = 0x0082,
    InternalError = 0x0084,
}

/// <summary>The error bodies memcached 1.6 sends with each status (proto_bin.c write_bin_error), byte for byte.</summary>
public static class BinaryStatusMessages
{
    public static ReadOnlySpan<byte> For(BinaryStatus status) => status switch
    {
        BinaryStatus.KeyNotFound => "Not found"u8,
        BinaryStatus.KeyExists => "Data exists for key."u8,
        BinaryStatus.ValueTooLarge => "Too large."u8,
        BinaryStatus.InvalidArguments => "Invalid arguments"u8,
        BinaryStatus.ItemNotStored => "Not stored."u8,
        BinaryStatus.NonNumeric => "Non-numeric server-side value for incr or decr"u8,
        BinaryStatus.AuthenticationError => "Auth failure."u8,
        BinaryStatus.UnknownCommand => "Unknown command"u8,
        BinaryStatus.OutOfMemory => "Out of memory"u8,
        _ => "Internal error"u8,
    };
}
