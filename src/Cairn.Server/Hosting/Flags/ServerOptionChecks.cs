namespace Cairn.Server.Hosting;

/// <summary>The start-up checks that involve more than one flag, run once every flag is read, in memcached's words where it has them.</summary>
internal static class ServerOptionChecks
{
    public static void Run(ServerOptions options, FlagParseState state)
    {
        CheckItemSize(options, state.ItemSize, state.ItemSizeText);
        if (options.ReplicaOf is not null && !options.Persist)
        {
            throw new CommandLineException("--replica-of needs the log: a replica applies and keeps what it is shipped (drop --no-persist)");
        }

        CheckReplication(options);
        if (options.MetricsPort is { } metricsPort && metricsPort == options.Port && options.TcpEnabled)
        {
            throw new CommandLineException($"--metrics-port {metricsPort} is the memcached port (-p): give metrics a port of their own");
        }

        CheckAuthentication(options, state.ProtocolGiven);
    }

    private static void CheckReplication(ServerOptions options)
    {
        if (options.SyncReplicas > 0 && !options.Persist)
        {
            throw new CommandLineException("--sync-replicas needs the log: replicas are shipped what it holds (drop --no-persist)");
        }

        if (options.EtcdEndpoints is null)
        {
            if (options.ClusterName is not null || options.NodeId is not null || options.Advertise is not null)
            {
                throw new CommandLineException("--cluster, --node-id and --advertise go with --etcd URL: give the etcd endpoints too");
            }

            return;
        }

        if (!options.Persist)
        {
            throw new CommandLineException("--etcd needs the log: a node that may be elected must hold every acknowledged write (drop --no-persist)");
        }

        if (options.ReplicaOf is not null)
        {
            throw new CommandLineException("--replica-of and --etcd both choose the primary: give one (with --etcd the elected leader is followed)");
        }

        foreach (var url in options.EtcdEndpoints.Split(','))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new CommandLineException($"--etcd {url}: give http://host:port URLs, comma separated");
            }
        }

        if (options.ClusterName is null || options.NodeId is null || options.Advertise is null)
        {
            throw new CommandLineException("--etcd needs --cluster NAME, --node-id ID and --advertise HOST:PORT as well");
        }

        if (options.NodeId.Any(c => char.IsWhiteSpace(c) || c == '/'))
        {
            throw new CommandLineException($"--node-id '{options.NodeId}': use a name without spaces or slashes");
        }
    }

    /// <summary>memcached's limits on -I, checked once -m is known too, in memcached's words with the fix added.</summary>
    private static void CheckItemSize(ServerOptions options, long itemSize, string? text)
    {
        if (text is null)
        {
            return;
        }

        if (itemSize < 1024)
        {
            throw new CommandLineException($"-I {text}: Item max size cannot be less than 1024 bytes; use -I 1k or more");
        }

        if (itemSize > 1024L * 1024 * 1024)
        {
            throw new CommandLineException($"-I {text}: Cannot set item size limit higher than a gigabyte; use -I 1g or less");
        }

        if (itemSize > options.MemoryLimitBytes / 2)
        {
            throw new CommandLineException($"-I {text}: Cannot set item size limit higher than 1/2 of memory max (-m {options.MemoryLimitBytes / (1024 * 1024)}); raise -m to at least {(itemSize * 2) / (1024 * 1024)} or lower -I");
        }

        options.MaxItemSize = (int)itemSize;
    }

    /// <summary>memcached's startup checks: each kind of authentication pins the one protocol it guards, so the other cannot bypass it.</summary>
    private static void CheckAuthentication(ServerOptions options, bool protocolGiven)
    {
        if (options.SaslEnabled && options.AuthFile is not null)
        {
            throw new CommandLineException("-S (binary SASL) and -Y (ascii auth) cannot be used together: each refuses the other's protocol");
        }

        if (options.AuthFile is not null)
        {
            if (protocolGiven && options.Protocol != ProtocolMode.Ascii)
            {
                throw new CommandLineException("You cannot allow the BINARY protocol while using ascii authentication tokens (-Y needs -B ascii)");
            }

            if (options.UdpPort != 0)
            {
                throw new CommandLineException("Cannot use UDP with ascii authentication enabled (-U 0 to disable)");
            }

            options.Protocol = ProtocolMode.Ascii;
        }

        if (options.SaslEnabled)
        {
            if (protocolGiven && options.Protocol != ProtocolMode.Binary)
            {
                throw new CommandLineException("You cannot allow the ASCII protocol while using SASL (-S needs -B binary)");
            }

            if (options.UdpPort != 0)
            {
                throw new CommandLineException("Cannot enable UDP while using binary SASL authentication");
            }

            if (string.IsNullOrEmpty(options.SaslPasswordFile))
            {
                throw new CommandLineException($"-S needs {Cairn.Server.Auth.CredentialStore.SaslPasswordDatabaseVariable} to name a file of user:password lines");
            }

            options.Protocol = ProtocolMode.Binary;
        }
    }

}
