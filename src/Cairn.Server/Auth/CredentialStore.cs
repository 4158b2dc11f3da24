using System.Security.Cryptography;
using System.Text;

namespace Cairn.Server.Auth;

/// <summary>
/// The users of -Y (ascii auth) or -S (SASL PLAIN, file named by MEMCACHED_SASL_PWDB): one <c>user:password</c>
/// per line, as memcached's authfile.c reads them. Secrets are held and compared only as SHA-256 digests.
/// </summary>
public sealed class CredentialStore
{
    /// <summary>memcached's environment variable for its SASL password database.</summary>
    public const string SaslPasswordDatabaseVariable = "MEMCACHED_SASL_PWDB";

    private readonly (byte[] User, byte[] Password)[] _entries;

    private CredentialStore((byte[] User, byte[] Password)[] entries)
    {
        _entries = entries;
    }

    public int Count => _entries.Length;

    /// <summary>Reads <paramref name="path"/>; a missing, unreadable or malformed file is a startup error.</summary>
    public static CredentialStore Load(string path, string flag)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path, Encoding.UTF8);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CredentialFileException($"could not read the password file '{path}' ({flag}): {error.Message}");
        }

        var entries = new List<(byte[], byte[])>();
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                // The line itself may be a secret, so only its number is reported.
                throw new CredentialFileException($"password file '{path}' ({flag}) has a malformed entry on line {i + 1}: should be 'user:password'");
            }

            entries.Add((Digest(Encoding.UTF8.GetBytes(line[..colon])), Digest(Encoding.UTF8.GetBytes(line[(colon + 1)..]))));
        }

        return new CredentialStore([.. entries]);
    }

    /// <summary>
    /// True when some entry has this user (or, as memcached's SASL realm makes it, user@this-host) and password.
    /// Every entry is compared, and in constant time.
    /// </summary>
    public bool Check(ReadOnlySpan<byte> user, ReadOnlySpan<byte> password)
    {
        // FixedTimeEquals returns early when lengths differ, so fixed-size digests keep the secret's length hidden too.
        Span<byte> userDigest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> realmUserDigest = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> passwordDigest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(user, userDigest);
        SHA256.HashData([.. user, (byte)'@', .. HostName], realmUserDigest);
        SHA256.HashData(password, passwordDigest);
        var match = false;
        foreach (var (entryUser, entryPassword) in _entries)
        {
            var userMatches = CryptographicOperations.FixedTimeEquals(userDigest, entryUser) | CryptographicOperations.FixedTimeEquals(realmUserDigest, entryUser);
            match |= userMatches & CryptographicOperations.FixedTimeEquals(passwordDigest, entryPassword);
        }

        return match;
    }

    /// <summary>The realm memcached's SASL server appends: this machine's host name.</summary>
    private static readonly byte[] HostName = Encoding.UTF8.GetBytes(Environment.MachineName);

    private static byte[] Digest(byte[] secret)
    {
        var digest = SHA256.HashData(secret);
        CryptographicOperations.ZeroMemory(secret);
        return digest;
    }
}

/// <summary>The password file of -Y or -S could not be used; the server does not start.</summary>
public sealed class CredentialFileException(string message) : IOException(message);
