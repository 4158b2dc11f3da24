namespace Cairn.Cli.Connection;

/// <summary>The command line is wrong; exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>No connection could be made or it was lost mid-reply; exit code 3.</summary>
internal sealed class ServerUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The server answered ERROR, CLIENT_ERROR, SERVER_ERROR or something unexpected; exit code 4.</summary>
internal sealed class ServerReplyException(string reply) : Exception(reply)
{
    public string Reply { get; } = reply;
}
