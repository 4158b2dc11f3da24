using System.Security.Authentication;
using Cairn.Server.Hosting;

namespace Cairn.Server.Tls;

/// <summary>-Z and memcached's -o ssl_* options; read into listener settings by <see cref="TlsListenerSettings"/>.</summary>
public sealed class TlsOptions
{
    /// <summary>-l prefix that keeps one listener plain while -Z turns TLS on for the others, as in memcached.</summary>
    public const string PlainListenerPrefix = "notls:";

    /// <summary>-Z, --enable-ssl: TCP listeners speak TLS unless their -l address starts with notls:.</summary>
    public bool Enabled { get; set; }

    /// <summary>ssl_chain_cert: PEM, the server certificate first, then any intermediates.</summary>
    public string? ChainCertificatePath { get; set; }

    /// <summary>ssl_key: PEM private key of the server certificate.</summary>
    public string? KeyPath { get; set; }

    /// <summary>ssl_ca_cert: PEM roots that client certificates must chain to; the system store when absent.</summary>
    public string? CaCertificatePath { get; set; }

    public TlsVerifyMode VerifyMode { get; set; } = TlsVerifyMode.None;

    /// <summary>ssl_min_version; None leaves the choice to the platform (TLS 1.2 and up on OpenSSL 3).</summary>
    public SslProtocols EnabledProtocols { get; set; } = SslProtocols.None;

    /// <summary>Applies one -o key=value; false when it is not a TLS option Cairn acts on.</summary>
    public bool TryApply(string key, string? value)
    {
        switch (key)
        {
            case "ssl_chain_cert":
                ChainCertificatePath = Required(key, value);
                return true;
            case "ssl_key":
                KeyPath = Required(key, value);
                return true;
            case "ssl_ca_cert":
                CaCertificatePath = Required(key, value);
                return true;
            case "ssl_verify_mode":
                VerifyMode = Required(key, value) switch
                {
                    "0" => TlsVerifyMode.None,
                    "1" => TlsVerifyMode.Request,
                    "2" => TlsVerifyMode.Require,
                    "3" => TlsVerifyMode.Once,
                    var other => throw new CommandLineException($"ssl_verify_mode takes 0, 1, 2 or 3, not '{other}'"),
                };
                return true;
            case "ssl_min_version":
                EnabledProtocols = Required(key, value).ToLowerInvariant() switch
                {
                    "tlsv1.2" => SslProtocols.Tls12 | SslProtocols.Tls13,
                    "tlsv1.3" => SslProtocols.Tls13,
                    "tlsv1.0" or "tlsv1.1" or "tlsv1" => throw new CommandLineException($"ssl_min_version {value}: TLS below 1.2 is not supported"),
                    var other => throw new CommandLineException($"ssl_min_version takes tlsv1.2 or tlsv1.3, not '{other}'"),
                };
                return true;
            default:
                // ssl_ciphers, ssl_session_cache, ssl_kernel_tls, ssl_keyformat and the non-TLS options.
                return false;
        }
    }

    private static string Required(string key, string? value) =>
        string.IsNullOrEmpty(value) ? throw new CommandLineException($"-o {key} needs a value ({key}=...)") : value;
}

/// <summary>memcached's ssl_verify_mode: how hard the server asks for a client certificate.</summary>
public enum TlsVerifyMode
{
    /// <summary>0: no client certificate is asked for.</summary>
    None = 0,

    /// <summary>1: asked for; a client may send none, but one it sends must verify.</summary>
    Request = 1,

    /// <summary>2: a client without a verifying certificate is refused.</summary>
    Require = 2,

    /// <summary>3: as 2; OpenSSL's "once" only matters on renegotiation, which .NET servers do not start.</summary>
    Once = 3,
}
