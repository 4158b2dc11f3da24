using System.Globalization;

namespace Cairn.Server.Hosting;

/// <summary>
/// memcached's getopt-style flags (-p 9889, -p9889, --port=9889, -vv). Hand-written because memcached's
/// harnesses pass short flags glued to values and repeated -v, which general-purpose parsers reject.
/// </summary>
public static class CommandLine
{
    public static ServerOptions Parse(IReadOnlyList<string> commandLine)
    {
        // A --config file's flags come first, so the command line overrides them: a later value replaces an earlier
        // one, and the options that add up (-l, -v) start over at their first use on the command line.
        var (configPath, fromFile, fromCommandLine) = ConfigFile.Split(commandLine);
        List<string> args = [.. fromFile, .. fromCommandLine];
        var options = new ServerOptions();
        var protocolGiven = false;
        long itemSize = 0;
        string? itemSizeText = null;
        bool listenOnCommandLine = false, verbosityOnCommandLine = false;
        var i = 0;
        try
        {
            for (; i < args.Count; i++)
            {
                var onCommandLine = i >= fromFile.Count;
                var arg = args[i];
                string name;
                string? inlineValue = null;
                if (arg.StartsWith("--", StringComparison.Ordinal))
                {
                    var eq = arg.IndexOf('=', StringComparison.Ordinal);
                    name = eq < 0 ? arg[2..] : arg[2..eq];
                    inlineValue = eq < 0 ? null : arg[(eq + 1)..];
                }
                else if (arg.Length >= 2 && arg[0] == '-')
                {
                    if (arg.Trim('-').Length > 0 && arg.AsSpan(1).TrimStart('v').IsEmpty)
                    {
                        if (onCommandLine && !verbosityOnCommandLine)
                        {
                            verbosityOnCommandLine = true;
                            options.Verbosity = 0;
                        }

                        options.Verbosity += arg.Length - 1;
                        continue;
                    }

                    name = arg[1].ToString();
                    inlineValue = arg.Length > 2 ? arg[2..] : null;
                }
                else
                {
                    throw new CommandLineException($"unexpected argument '{arg}'");
                }

                string Value()
                {
                    if (inlineValue is not null)
                    {
                        return inlineValue;
                    }

                    if (i + 1 >= args.Count)
                    {
                        throw new CommandLineException($"option '{arg}' needs a value");
                    }

                    return args[++i];
                }

                switch (name)
                {
                    case "p" or "port":
                        options.Port = ParseInt(Value(), arg, 0, 65535);
                        options.PortGiven = true;
                        break;
                    case "l" or "listen":
                        if (onCommandLine && !listenOnCommandLine)
                        {
                            listenOnCommandLine = true;
                            options.ListenAddresses.Clear();
                        }

                        foreach (var address in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            options.ListenAddresses.Add(address);
                        }

                        break;
                    case "s" or "unix-socket":
                        options.UnixSocketPath = Value();
                        break;
                    case "a" or "unix-mask":
                        options.UnixSocketMask = ParseOctal(Value(), arg);
                        break;
                    case "c" or "conn-limit":
                        options.MaxConnections = ParseInt(Value(), arg, 1, int.MaxValue);
                        break;
                    case "m" or "memory-limit":
                        options.MemoryLimitBytes = ParseSize(Value(), arg, defaultUnit: 1024 * 1024);
                        break;
                    case "I" or "max-item-size":
                        itemSizeText = Value();
                        itemSize = ParseSize(itemSizeText, arg, defaultUnit: 1);
                        break;
                    case "enable-replicaof":
                        options.ReplicaOfCommandEnabled = true;
                        break;
                    case "replica-of":
                        options.ReplicaOf = Value();
                        _ = ParseHostPort(options.ReplicaOf, arg);
                        break;
                    case "sync-replicas":
                        options.SyncReplicas = ParseInt(Value(), arg, 0, 16);
                        break;
                    case "log-format":
                        options.LogFormat = Value() switch
                        {
                            "text" => LogFormat.Text,
                            "json" => LogFormat.Json,
                            var other => throw new CommandLineException($"--log-format must be text or json, not '{other}'"),
                        };
                        break;
                    case "metrics-port":
                        options.MetricsPort = ParseInt(Value(), arg, 1, 65535);
                        break;
                    case "sync-timeout":
                        options.SyncTimeout = TimeSpan.FromMilliseconds(ParseInt(Value(), arg, 1, 3_600_000));
                        break;
                    case "etcd":
                        options.EtcdEndpoints = Value();
                        break;
                    case "cluster":
                        options.ClusterName = Value();
                        break;
                    case "node-id":
                        options.NodeId = Value();
                        break;
                    case "advertise":
                        options.Advertise = Value();
                        _ = ParseHostPort(options.Advertise, arg);
                        break;
                    case "lease-ttl":
                        options.LeaseTtlSeconds = ParseInt(Value(), arg, 2, 600);
                        break;
                    case "max-get-line":
                        var getLine = ParseSize(Value(), arg, defaultUnit: 1);
                        if (getLine < 2048 || getLine > 1024L * 1024 * 1024)
                        {
                            throw new CommandLineException($"{arg} {getLine}: give 2k to 1g; a get line may always be 2048 bytes, as in memcached");
                        }

                        options.MaxGetLineLength = (int)getLine;
                        break;
                    case "auth-failure-delay":
                        options.AuthFailureDelay = TimeSpan.FromMilliseconds(ParseInt(Value(), arg, 0, 60_000));
                        break;
                    case "D":
                        var delimiter = Value();
                        if (delimiter.Length != 1)
                        {
                            throw new CommandLineException($"-D {delimiter}: the prefix delimiter is one character, such as ':'");
                        }

                        options.PrefixDelimiter = delimiter[0];
                        break;
                    case "t" or "threads":
                        options.Threads = ParseInt(Value(), arg, 1, 1024);
                        break;
                    case "M" or "disable-evictions":
                        options.EvictWhenFull = false;
                        break;
                    case "evict":
                        options.EvictWhenFull = true;
                        break;
                    case "A" or "enable-shutdown":
                        options.ShutdownCommandEnabled = true;
                        break;
                    case "F" or "disable-flush-all":
                        options.FlushEnabled = false;
                        break;
                    case "f" or "slab-growth-factor":
                        options.GrowthFactor = double.Parse(Value(), CultureInfo.InvariantCulture);
                        if (options.GrowthFactor <= 1.0)
                        {
                            throw new CommandLineException("factor must be greater than 1");
                        }

                        break;
                    case "U" or "udp-port":
                        options.UdpPort = ParseInt(Value(), arg, 0, 65535);
                        if (options.UdpPort != 0)
                        {
                            options.IgnoredOptions.Add($"-U {options.UdpPort} (UDP is not served)");
                        }

                        break;
                    case "B" or "protocol":
                        options.Protocol = Value() switch
                        {
                            "auto" => ProtocolMode.Auto,
                            "ascii" => ProtocolMode.Ascii,
                            "binary" => ProtocolMode.Binary,
                            var other => throw new CommandLineException($"Invalid value for binding protocol: {other} -- should be one of auto, binary, or ascii"),
                        };
                        protocolGiven = true;
                        break;
                    case "S" or "enable-sasl":
                        options.SaslEnabled = true;
                        options.SaslPasswordFile ??= Environment.GetEnvironmentVariable(Cairn.Server.Auth.CredentialStore.SaslPasswordDatabaseVariable);
                        break;
                    case "Y" or "auth-file":
                        options.AuthFile = Value();
                        break;
                    case "data-dir":
                        options.DataDirectory = Value();
                        break;
                    case "no-persist":
                        options.Persist = false;
                        break;
                    case "fsync":
                        var mode = Value();
                        if (!Cairn.Storage.Log.FsyncPolicyNames.TryParse(mode, out var policy))
                        {
                            throw new CommandLineException($"--fsync takes always, everysec or no, not '{mode}'");
                        }

                        options.Fsync = policy;
                        break;
                    case "segment-size":
                        options.SegmentSize = ParseSize(Value(), arg, defaultUnit: 1024 * 1024);
                        break;
                    case "truncate-corrupt-log":
                        options.TruncateCorruptLog = true;
                        break;
                    case "compact-min-size":
                        options.CompactMinimumBytes = ParseSize(Value(), arg, defaultUnit: 1024 * 1024);
                        break;
                    case "compact-dead-ratio":
                        options.CompactDeadRatio = double.Parse(Value(), CultureInfo.InvariantCulture);
                        if (options.CompactDeadRatio is <= 0 or >= 1)
                        {
                            throw new CommandLineException("--compact-dead-ratio must be between 0 and 1");
                        }

                        break;
                    case "verbose":
                        if (onCommandLine && !verbosityOnCommandLine)
                        {
                            verbosityOnCommandLine = true;
                            options.Verbosity = 0;
                        }

                        options.Verbosity++;
                        break;
                    case "h" or "help":
                        options.ShowHelp = true;
                        break;
                    case "V" or "version":
                        options.ShowVersion = true;
                        break;
                    case "Z" or "enable-ssl":
                        options.Tls.Enabled = true;
                        break;
                    case "o" or "extended":
                        // memcached's comma-separated key[=value] list: the ssl_* keys are acted on, the rest reported as ignored.
                        var ignoredExtended = new List<string>();
                        foreach (var item in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                        {
                            var eq = item.IndexOf('=', StringComparison.Ordinal);
                            if (eq > 0 && item[..eq] == "idle_timeout")
                            {
                                options.IdleTimeoutSeconds = ParseInt(item[(eq + 1)..], "-o idle_timeout", 0, int.MaxValue);
                            }
                            else if (!options.Tls.TryApply(eq < 0 ? item : item[..eq], eq < 0 ? null : item[(eq + 1)..]))
                            {
                                ignoredExtended.Add(item);
                            }
                        }

                        if (ignoredExtended.Count > 0)
                        {
                            options.IgnoredOptions.Add($"-o {string.Join(',', ignoredExtended)}");
                        }

                        break;

                    // Accepted so memcached's harnesses and init scripts start Cairn unchanged; they mean nothing here.
                    case "u" or "user" or "R" or "max-reqs-per-event" or "b" or "listen-backlog"
                        or "n" or "slab-min-size" or "P" or "pidfile":
                        options.IgnoredOptions.Add($"{arg} {Value()}");
                        break;
                    case "k" or "lock-memory" or "C" or "disable-cas" or "L" or "enable-largepages" or "r" or "enable-coredumps":
                        options.IgnoredOptions.Add(arg);
                        break;
                    default:
                        throw new CommandLineException($"unknown option '{arg}' (see -h)");
                }
            }
        }
        catch (CommandLineException error) when (i < fromFile.Count)
        {
            throw new CommandLineException($"--config {configPath}: {error.Message}");
        }

        CheckItemSize(options, itemSize, itemSizeText);
        if (options.ReplicaOf is not null && !options.Persist)
        {
            throw new CommandLineException("--replica-of needs the log: a replica applies and keeps what it is shipped (drop --no-persist)");
        }

        CheckReplication(options);
        if (options.MetricsPort is { } metricsPort && metricsPort == options.Port && options.TcpEnabled)
        {
            throw new CommandLineException($"--metrics-port {metricsPort} is the memcached port (-p): give metrics a port of their own");
        }

        CheckAuthentication(options, protocolGiven);
        return options;
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

    public static string HelpText => """
        cairn-server: a memcached-compatible key-value server that keeps what it acknowledges.

        -p, --port=<num>          TCP port to listen on (default: 9889)
        -l, --listen=<addr>       interface(s) to listen on, comma separated, each [notls:]addr[:port]
                                  (default: 127.0.0.1; use 0.0.0.0 or :: to open it up, ::1 or
                                  [::1]:port for IPv6 loopback)
        -s, --unix-socket=<file>  unix socket to listen on (TCP is off unless -p is also given)
        -a, --unix-mask=<mask>    access mask for the unix socket, in octal (default: 700)
        -c, --conn-limit=<num>    max simultaneous connections (default: 1024)
        -m, --memory-limit=<mb>   item memory in megabytes (default: 1024)
        -I, --max-item-size=<n>   largest item, with k/m/g suffix (default: 1m; 1k to 1g, at most half of -m)
            --max-get-line=<n>    longest multi-key get line buffered per connection (default: 2m)
            --replica-of=<h:p>    follow that primary from the start, read-only (see README: Replication)
            --enable-replicaof    allow the "replicaof" command (off: a client could repoint the server)
            --sync-replicas=<n>   acknowledge a write only once n replicas hold it too (default: 0)
            --sync-timeout=<ms>   how long writes wait for those replicas before an error (default: 1000)
            --config=<file>       read these long flags from a JSON object first (see deploy/cairn.json);
                                  the command line overrides it
            --log-format=<f>      text (default) or json: one JSON object per log line, for log shippers
            --metrics-port=<num>  serve Prometheus metrics at http://<first -l address>:<num>/metrics (default: off)
            --etcd=<urls>         elect the primary through etcd (http://host:port, comma separated);
                                  needs --cluster=<name>, --node-id=<id>, --advertise=<host:port>
            --lease-ttl=<s>       the leader's etcd lease in seconds (default: 5)
        -M, --disable-evictions   refuse writes when memory is full (the default)
            --evict               evict least recently used items when full (cache mode)
        -f, --slab-growth-factor  chunk size growth factor (default: 1.25)
        -A, --enable-shutdown     allow the "shutdown" command
        -F, --disable-flush-all   refuse the "flush_all" command
        -t, --threads=<num>       accepted; .NET's thread pool serves connections (default: 4)
        -B, --protocol=<name>     ascii, binary or auto: detected per connection (default: auto)
            --data-dir=<path>     where the append-only log lives (default: ./data)
            --fsync=<mode>        always: reply after fsync (group commit); everysec: fsync each
                                  second, a power cut may lose about a second; no: leave it to the OS.
                                  In every mode a reply is sent only after its write reached the file,
                                  so kill -9 loses nothing acknowledged (default: everysec)
            --no-persist          keep nothing on disk (a pure cache)
            --segment-size=<mb>   start a new log segment past this size (default: 64)
            --compact-min-size=<mb>  compact in the background once the log is this big... (default: 64)
            --compact-dead-ratio=<r> ...and this share of it is dead (default: 0.5)
            --truncate-corrupt-log   start even if the log is damaged in the middle, cutting it there
        -S, --enable-sasl         binary protocol only, SASL PLAIN required; users from the
                                  user:password file named by $MEMCACHED_SASL_PWDB
        -Y, --auth-file=<file>    text protocol only; the first command must be
                                  "set <key> <flags> <exptime> <bytes>" with "user password"
                                  (users from <file>, user:password lines)
        -v, -vv, --verbose        -v: connections, refusals, failed logins; -vv: every command too
            --auth-failure-delay=<ms>  pause a connection this long after a failed login (default: 0)
        -D <char>                 key prefix delimiter for "stats detail" (default: ':')
        -Z, --enable-ssl          TLS on the TCP listeners; -l notls:<addr> keeps one plain
        -o, --extended=<opts>     ssl_chain_cert=<pem>, ssl_key=<pem>, ssl_ca_cert=<pem>,
                                  ssl_verify_mode=0|1|2|3 (none, request, require, once),
                                  ssl_min_version=tlsv1.2|tlsv1.3, idle_timeout=<s> (close connections
                                  idle longer); other -o options are ignored
        -U, -u, -R, -b, -n, -P, -k, -C, -L, -r   accepted and ignored (memcached compatibility)
        -h, --help                this text
        -V, --version             print the version and exit
        """;

    /// <summary>HOST:PORT for --replica-of; [v6]:port too.</summary>
    public static (string Host, int Port) ParseHostPort(string value, string flag)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new CommandLineException($"{flag} {value}: give HOST:PORT, for example 127.0.0.1:9889");
        }

        return (value[..colon].Trim('[', ']'), port);
    }

    private static int ParseInt(string value, string flag, int min, int max)
    {
        if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) || number < min || number > max)
        {
            throw new CommandLineException($"invalid value '{value}' for {flag}");
        }

        return number;
    }

    private static int ParseOctal(string value, string flag)
    {
        try
        {
            return Convert.ToInt32(value, 8);
        }
        catch (FormatException)
        {
            throw new CommandLineException($"invalid octal mask '{value}' for {flag}");
        }
    }

    /// <summary>Numbers with an optional k/m/g suffix, as memcached's -I takes them.</summary>
    private static long ParseSize(string value, string flag, long defaultUnit)
    {
        var text = value.Trim();
        long unit = defaultUnit;
        if (text.Length > 0)
        {
            switch (char.ToLowerInvariant(text[^1]))
            {
                case 'k':
                    unit = 1024;
                    text = text[..^1];
                    break;
                case 'm':
                    unit = 1024 * 1024;
                    text = text[..^1];
                    break;
                case 'g':
                    unit = 1024L * 1024 * 1024;
                    text = text[..^1];
                    break;
            }
        }

        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) || number <= 0)
        {
            throw new CommandLineException($"{flag} {value}: not a size; give a positive number with an optional k, m or g suffix");
        }

        if (number > long.MaxValue / unit)
        {
            throw new CommandLineException($"{flag} {value}: too large");
        }

        return number * unit;
    }
}

public sealed class CommandLineException(string message) : Exception(message);
