using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Cairn.Server.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Cairn.Server.Tls;

/// <summary>Turns <see cref="TlsOptions"/> into Kestrel's TLS middleware options, loading the PEM files once at startup.</summary>
public static class TlsListenerSettings
{
    /// <summary>Null when -Z is off; a <see cref="CommandLineException"/> when a file is missing or unreadable.</summary>
    public static HttpsConnectionAdapterOptions? Create(TlsOptions tls)
    {
        if (!tls.Enabled)
        {
            return null;
        }

        if (tls.ChainCertificatePath is null || tls.KeyPath is null)
        {
            throw new CommandLineException("-Z needs -o ssl_chain_cert=FILE,ssl_key=FILE");
        }

        var chain = Load("ssl_chain_cert", tls.ChainCertificatePath, path =>
        {
            var certificates = new X509Certificate2Collection();
            certificates.ImportFromPemFile(path);
            return certificates.Count == 0 ? throw new CryptographicException("no PEM certificate in it") : certificates;
        });
        _ = Load("ssl_key", tls.KeyPath, path => File.ReadAllText(path));
        var certificate = Load("ssl_chain_cert/ssl_key", tls.ChainCertificatePath, path => X509Certificate2.CreateFromPemFile(path, tls.KeyPath));
        if (!certificate.HasPrivateKey)
        {
            throw new CommandLineException($"ssl_key '{tls.KeyPath}' holds no private key for '{tls.ChainCertificatePath}'");
        }

        X509Certificate2Collection? roots = null;
        if (tls.CaCertificatePath is { } caPath)
        {
            roots = Load("ssl_ca_cert", caPath, path =>
            {
                var certificates = new X509Certificate2Collection();
                certificates.ImportFromPemFile(path);
                return certificates.Count == 0 ? throw new CryptographicException("no PEM certificate in it") : certificates;
            });
        }

        // The first PEM block is the server's own certificate; the rest are intermediates sent along with it.
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        var options = new HttpsConnectionAdapterOptions
        {
            ServerCertificate = certificate,
            ServerCertificateChain = intermediates.Count == 0 ? null : intermediates,
            SslProtocols = tls.EnabledProtocols,
            ClientCertificateMode = tls.VerifyMode switch
            {
                TlsVerifyMode.None => ClientCertificateMode.NoCertificate,
                TlsVerifyMode.Request => ClientCertificateMode.AllowCertificate,
                _ => ClientCertificateMode.RequireCertificate,
            },
        };
        if (tls.VerifyMode != TlsVerifyMode.None)
        {
            options.ClientCertificateValidation = (client, _, errors) => Verify(client, errors, roots);
        }

        return options;
    }

    private static bool Verify(X509Certificate2 client, SslPolicyErrors errors, X509Certificate2Collection? roots)
    {
        if (roots is null)
        {
            return errors == SslPolicyErrors.None;
        }

        // Trust exactly ssl_ca_cert, as OpenSSL's verify locations do in memcached; the system roots play no part.
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(client);
    }

    private static T Load<T>(string option, string path, Func<string, T> load)
    {
        if (!File.Exists(path))
        {
            throw new CommandLineException($"{option}: cannot read '{path}': no such file");
        }

        try
        {
            return load(path);
        }
        catch (Exception error) when (error is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CommandLineException($"{option}: cannot load '{path}': {error.Message}");
        }
    }
}
