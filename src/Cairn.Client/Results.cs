using System.Text;

namespace Cairn.Client;

/// <summary>An item read from the server: its value, client flags and CAS token.</summary>
/// <param name="Value">The value bytes.</param>
/// <param name="Flags">The 32-bit client flags stored with the item.</param>
/// <param name="Cas">The CAS token, for <see cref="CairnClient.CasAsync(string, ReadOnlyMemory{byte}, ulong, TimeSpan?, uint, CancellationToken)"/>.</param>
public sealed record CairnItem(ReadOnlyMemory<byte> Value, uint Flags, ulong Cas)
{
    /// <summary>The value decoded as UTF-8.</summary>
    public string ValueAsString() => Encoding.UTF8.GetString(Value.Span);
}

/// <summary>What a storage command did.</summary>
public enum CairnStoreResult
{
    /// <summary>The item was stored (<c>HD</c>).</summary>
    Stored,

    /// <summary>The mode's condition failed: add on an existing key, replace/append/prepend on a missing one (<c>NS</c>).</summary>
    NotStored,

    /// <summary>A CAS store found the item changed since it was read (<c>EX</c>).</summary>
    Exists,

    /// <summary>A CAS store found no item (<c>NF</c>).</summary>
    NotFound,
}

/// <summary>A server could not be reached, or the connection to it was lost.</summary>
public sealed class CairnServerUnavailableException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public CairnServerUnavailableException()
        : base("server unavailable")
    {
        Server = string.Empty;
    }

    /// <summary>Creates the exception with a message.</summary>
    public CairnServerUnavailableException(string message)
        : base(message)
    {
        Server = string.Empty;
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public CairnServerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
        Server = string.Empty;
    }

    /// <summary>Creates the exception naming the server (<c>host:port</c>).</summary>
    public CairnServerUnavailableException(string server, string message, Exception? innerException)
        : base($"cairn server {server} is unavailable: {message}", innerException)
    {
        Server = server;
    }

    /// <summary>The server, as <c>host:port</c>.</summary>
    public string Server { get; }
}

/// <summary>The server answered with an error line (<c>ERROR</c>, <c>CLIENT_ERROR</c>, <c>SERVER_ERROR</c>) or a reply the client does not understand.</summary>
public sealed class CairnProtocolException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CairnProtocolException()
    {
    }

    /// <summary>Creates the exception with the server's line.</summary>
    public CairnProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    public CairnProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
