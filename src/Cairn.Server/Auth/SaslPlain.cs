namespace Cairn.Server.Auth;

/// <summary>SASL PLAIN (RFC 4616): <c>[authzid] NUL authcid NUL passwd</c>, checked against the password file.</summary>
public static class SaslPlain
{
    public static ReadOnlySpan<byte> MechanismName => "PLAIN"u8;

    /// <summary>memcached's MAX_SASL_MECH_LEN: a longer mechanism name is refused as invalid arguments.</summary>
    public const int MaxMechanismLength = 32;

    /// <summary>
    /// True when <paramref name="message"/> is a well-formed PLAIN message whose user and password are in
    /// <paramref name="credentials"/>. An authzid other than the user itself is refused: nobody may act as another.
    /// </summary>
    public static bool Authenticate(ReadOnlySpan<byte> message, CredentialStore credentials)
    {
        var first = message.IndexOf((byte)0);
        if (first < 0)
        {
            return false;
        }

        var authzid = message[..first];
        var rest = message[(first + 1)..];
        var second = rest.IndexOf((byte)0);
        if (second <= 0)
        {
            return false;
        }

        var user = rest[..second];
        var password = rest[(second + 1)..];
        if (password.IndexOf((byte)0) >= 0)
        {
            return false;
        }

        // Checked even when the authzid is wrong, so a refusal takes the same time either way.
        var valid = credentials.Check(user, password);
        return valid && (authzid.IsEmpty || authzid.SequenceEqual(user));
    }
}
