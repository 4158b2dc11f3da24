using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace Cairn.Server.Hosting;

/// <summary>
/// A start that cannot go ahead, said in one line that names the flag, the path or address, and what to do, with the
/// sysexits code the executable exits with. Everything the host, Kestrel or the file system throws at start is turned
/// into one of these here, so an operator never reads a stack trace.
/// </summary>
public sealed class StartupException(string message, int exitCode, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>sysexits.h: the command was used incorrectly.</summary>
    public const int Usage = 64;

    /// <summary>sysexits.h: the input data was incorrect (a damaged log).</summary>
    public const int DataError = 65;

    /// <summary>sysexits.h: a service is unavailable (the port is taken).</summary>
    public const int Unavailable = 69;

    /// <summary>sysexits.h: an operating system error (an address that cannot be bound).</summary>
    public const int OsError = 71;

    /// <summary>sysexits.h: a file or directory cannot be created.</summary>
    public const int CannotCreate = 73;

    /// <summary>sysexits.h: temporary failure (another server holds the data directory).</summary>
    public const int TemporaryFailure = 75;

    /// <summary>sysexits.h: permission denied.</summary>
    public const int NoPermission = 77;

    public int ExitCode { get; } = exitCode;

    /// <summary>Checks --data-dir before the log opens it: a file, a path that cannot be created, a directory the server cannot write.</summary>
    public static void CheckDataDirectory(string dataDirectory)
    {
        var path = Path.GetFullPath(dataDirectory);
        if (File.Exists(path))
        {
            throw new StartupException($"--data-dir {path} is a file, not a directory: name a directory (it is created if missing)", CannotCreate);
        }

        try
        {
            Directory.CreateDirectory(path);
        }
        catch (UnauthorizedAccessException error)
        {
            throw new StartupException($"--data-dir {path} cannot be created: permission denied; create it for the server's user or choose another path", NoPermission, error);
        }
        catch (IOException error)
        {
            throw new StartupException($"--data-dir {path} cannot be created ({Reason(error)}); check that every parent is a directory, or choose another path", CannotCreate, error);
        }

        var probe = Path.Combine(path, ".cairn-write-probe");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (UnauthorizedAccessException error)
        {
            throw new StartupException($"--data-dir {path} is not writable by this user: give it write permission or choose another directory", NoPermission, error);
        }
        catch (IOException error)
        {
            throw new StartupException($"--data-dir {path} cannot be written ({Reason(error)}): fix the file system or choose another directory", CannotCreate, error);
        }
    }

    /// <summary>
    /// A unix socket file left by a server that was killed: memcached removes it and binds again. One that a live
    /// server still answers on is not stale, and is refused instead.
    /// </summary>
    public static void RemoveStaleUnixSocket(string path)
    {
        // File.Exists is false for a socket: ask whether anything that is not a directory is there.
        if (!Path.Exists(path) || Directory.Exists(path))
        {
            return;
        }

        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new StartupException($"-s {path}: another server is listening on this socket; stop it or choose another path", Unavailable);
            }
            catch (SocketException)
            {
                // Nobody answers: the file is a leftover.
            }
        }

        File.Delete(path);
    }

    /// <summary>What Kestrel's bind failure means, for the listener it was starting.</summary>
    public static StartupException FromBindFailure(Exception error, ServerOptions options)
    {
        var socketError = Find<SocketException>(error)?.SocketErrorCode;
        var where = options.UnixSocketPath is { } socket && !options.TcpEnabled ? $"-s {socket}" : $"-l {Listeners(options)} -p {options.Port}";
        if (Find<AddressInUseException>(error) is not null || socketError == SocketError.AddressAlreadyInUse)
        {
            return new StartupException($"{where}: the address is already in use; stop the other server or choose another port with -p", Unavailable, error);
        }

        if (socketError == SocketError.AddressNotAvailable)
        {
            return new StartupException($"{where}: that address is not on this machine; use one of its interface addresses, 127.0.0.1, or 0.0.0.0 for all", OsError, error);
        }

        if (socketError == SocketError.AccessDenied || Find<UnauthorizedAccessException>(error) is not null)
        {
            return new StartupException($"{where}: permission denied; ports below 1024 need privileges, or choose another port with -p", NoPermission, error);
        }

        return new StartupException($"{where}: cannot listen ({Reason(error)})", OsError, error);
    }

    private static string Listeners(ServerOptions options) =>
        string.Join(',', options.ListenAddressesOrDefault);

    private static T? Find<T>(Exception? error)
        where T : Exception
    {
        for (; error is not null; error = error.InnerException)
        {
            if (error is T match)
            {
                return match;
            }
        }

        return null;
    }

    /// <summary>The innermost message: the operating system's own words, without .NET's wrapping.</summary>
    private static string Reason(Exception error)
    {
        while (error.InnerException is not null)
        {
            error = error.InnerException;
        }

        return error.Message.TrimEnd('.');
    }
}
