using System.Globalization;
using Cairn.Server.Auth;
using Cairn.Storage.Log;

namespace Cairn.Server.Hosting;

/// <summary>
/// The server's flags, memcached's names first, in --help order. Values are checked by the <see cref="ServerOptions"/>
/// setters; checks that involve several flags run once all are read (<see cref="ServerOptionChecks"/>).
/// </summary>
public static class ServerFlags
{
    private const long Megabyte = 1024 * 1024;

    private static readonly Dictionary<string, LogFormat> LogFormats = new() { ["text"] = LogFormat.Text, ["json"] = LogFormat.Json };

    private static readonly Dictionary<string, ProtocolMode> Protocols = new()
    {
        ["auto"] = ProtocolMode.Auto,
        ["ascii"] = ProtocolMode.Ascii,
        ["binary"] = ProtocolMode.Binary,
    };

    public static IReadOnlyList<ServerFlag> All { get; } =
    [
        Valued('p', "port", "num", "TCP port to listen on", (o, a) =>
        {
            o.Port = a.WholeNumber();
            o.PortGiven = true;
        }, o => Num(o.Port)),
        Valued('l', "listen", "addr", """
            interface(s) to listen on, comma separated, each [notls:]addr[:port]
            (use 0.0.0.0 or :: to open it up, ::1 or [::1]:port for IPv6 loopback)
            """, AddListenAddresses, o => string.Join(',', o.ListenAddressesOrDefault)),
        Valued('s', "unix-socket", "file", "unix socket to listen on (TCP is off unless -p is also given)", (o, a) => o.UnixSocketPath = a.Value),
        Valued('a', "unix-mask", "mask", "access mask for the unix socket, in octal", (o, a) => o.UnixSocketMask = a.Octal(),
            o => Convert.ToString(o.UnixSocketMask, 8)),
        Valued('c', "conn-limit", "num", "max simultaneous connections", (o, a) => o.MaxConnections = a.WholeNumber(), o => Num(o.MaxConnections)),
        Valued('m', "memory-limit", "mb", "item memory in megabytes (k/m/g suffixes too)", (o, a) => o.MemoryLimitBytes = a.Size(Megabyte),
            o => Num(o.MemoryLimitBytes / Megabyte)),
        Valued('I', "max-item-size", "n", "largest item, with k/m/g suffix (1k to 1g, at most half of -m)", (o, a) =>
        {
            // Checked against -m once every flag is read: memcached's messages name both.
            a.State.ItemSizeText = a.Value;
            a.State.ItemSize = a.Size(1);
        }, o => Size(o.MaxItemSize)),
        Valued(null, "max-get-line", "n", "longest multi-key get line buffered per connection (2k to 1g)", (o, a) =>
        {
            var length = a.Size(1);
            o.MaxGetLineLength = length > int.MaxValue ? int.MaxValue : (int)length;
        }, o => Size(o.MaxGetLineLength)),
        Valued(null, "replica-of", "host:port", "follow that primary from the start, read-only (see README: Replication)",
            (o, a) => o.ReplicaOf = a.HostPort()),
        Switch(null, "enable-replicaof", "allow the \"replicaof\" command (off: a client could repoint the server)", (o, _) => o.ReplicaOfCommandEnabled = true),
        Valued(null, "sync-replicas", "n", "acknowledge a write only once n replicas hold it too (0 to 16)", (o, a) => o.SyncReplicas = a.WholeNumber(),
            o => Num(o.SyncReplicas)),
        Valued(null, "sync-timeout", "ms", "how long writes wait for those replicas before an error", (o, a) => o.SyncTimeout = a.Milliseconds(),
            o => Num((long)o.SyncTimeout.TotalMilliseconds)),
        Valued(null, "config", "file", "read these long flags from a JSON object first (see deploy/cairn.json);\nthe command line overrides it",
            static (_, _) => { /* ConfigFile.Split takes it out before the table is read. */ }),
        Valued(null, "log-format", "f", "text, or json: one JSON object per log line, for log shippers", (o, a) => o.LogFormat = a.OneOf(
            LogFormats, value => $"--log-format must be text or json, not '{value}'"), o => o.LogFormat.ToString().ToLowerInvariant()),
        Valued(null, "metrics-port", "num", "serve Prometheus metrics at http://<first -l address>:<num>/metrics", (o, a) => o.MetricsPort = a.WholeNumber(),
            o => o.MetricsPort is { } port ? Num(port) : "off"),
        Valued(null, "etcd", "urls", "elect the primary through etcd (http://host:port, comma separated);\nneeds --cluster, --node-id and --advertise",
            (o, a) => o.EtcdEndpoints = a.Value),
        Valued(null, "cluster", "name", "the etcd key prefix shared by one primary and its replicas", (o, a) => o.ClusterName = a.Value),
        Valued(null, "node-id", "id", "this node's name in the cluster, stable across restarts", (o, a) => o.NodeId = a.Value),
        Valued(null, "advertise", "host:port", "where replicas and clients reach this node", (o, a) => o.Advertise = a.HostPort()),
        Valued(null, "lease-ttl", "s", "the leader's etcd lease in seconds (2 to 600)", (o, a) => o.LeaseTtlSeconds = a.WholeNumber(), o => Num(o.LeaseTtlSeconds)),
        Switch('M', "disable-evictions", "refuse writes when memory is full (the default keeps the coldest values\non disk only, in the log; without a log it refuses too)", (o, _) =>
        {
            o.EvictWhenFull = false;
            o.RefuseWhenFull = true;
        }),
        Switch(null, "evict", "evict least recently used items when full (cache mode)", (o, _) =>
        {
            o.EvictWhenFull = true;
            o.RefuseWhenFull = false;
        }),
        Valued('f', "slab-growth-factor", "f", "chunk size growth factor", (o, a) => o.GrowthFactor = a.Number(),
            o => o.GrowthFactor.ToString("0.00", CultureInfo.InvariantCulture)),
        Switch('A', "enable-shutdown", "allow the \"shutdown\" command", (o, _) => o.ShutdownCommandEnabled = true),
        Switch('F', "disable-flush-all", "refuse the \"flush_all\" command", (o, _) => o.FlushEnabled = false),
        Valued('t', "threads", "num", "event loops serving plain connections, at most one per CPU this process may use", (o, a) => o.Threads = a.WholeNumber(), o => Num(o.Threads)),
        Valued('B', "protocol", "name", "ascii, binary or auto: detected per connection", (o, a) =>
        {
            o.Protocol = a.OneOf(Protocols, value => $"Invalid value for binding protocol: {value} -- should be one of auto, binary, or ascii");
            a.State.ProtocolGiven = true;
        }, o => o.Protocol.ToString().ToLowerInvariant()),
        Valued(null, "data-dir", "path", "where the append-only log lives", (o, a) => o.DataDirectory = a.Value, o => o.DataDirectory),
        Valued(null, "fsync", "mode", """
            always: reply after fsync (group commit); everysec: fsync each second, a power cut
            may lose about a second; no: leave it to the OS. In every mode a reply is sent only
            after its write reached the file, so kill -9 loses nothing acknowledged
            """, (o, a) => o.Fsync = FsyncPolicyNames.TryParse(a.Value, out var policy)
                ? policy
                : throw new CommandLineException($"--fsync takes always, everysec or no, not '{a.Value}'"), o => FsyncPolicyNames.ToFlag(o.Fsync)),
        Switch(null, "no-persist", "keep nothing on disk (a pure cache)", (o, _) => o.Persist = false),
        Valued(null, "disk-limit", "mb", "refuse writes once the log holds this much (k/m/g suffixes; 0: until the disk is full)",
            (o, a) => o.DiskLimitBytes = a.Size(Megabyte), o => o.DiskLimitBytes == 0 ? "0" : Num(o.DiskLimitBytes / Megabyte)),
        Valued(null, "segment-size", "mb", "start a new log segment past this size", (o, a) => o.SegmentSize = a.Size(Megabyte),
            o => Num(o.SegmentSize / Megabyte)),
        Valued(null, "compact-min-size", "mb", "compact in the background once the log is this big...", (o, a) => o.CompactMinimumBytes = a.Size(Megabyte),
            o => Num(o.CompactMinimumBytes / Megabyte)),
        Valued(null, "compact-dead-ratio", "r", "...and this share of it is dead (between 0 and 1)", (o, a) => o.CompactDeadRatio = a.Number(),
            o => o.CompactDeadRatio.ToString(CultureInfo.InvariantCulture)),
        Switch(null, "truncate-corrupt-log", "start even if the log is damaged in the middle, cutting it there\n(the cut bytes are kept aside, never deleted)",
            (o, _) => o.TruncateCorruptLog = true),
        Switch('S', "enable-sasl", """
            binary protocol only, SASL PLAIN required; users from the
            user:password file named by $MEMCACHED_SASL_PWDB
            """, (o, _) =>
        {
            o.SaslEnabled = true;
            o.SaslPasswordFile ??= Environment.GetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable);
        }),
        Valued('Y', "auth-file", "file", """
            text protocol only; the first command must be
            "set <key> <flags> <exptime> <bytes>" with "user password" (user:password lines)
            """, (o, a) => o.AuthFile = a.Value),
        Switch('v', "verbose", "-v: connections, refusals, failed logins; -vv: every command too", (o, a) => AddVerbosity(o, a, 1)),
        Valued(null, "auth-failure-delay", "ms", "pause a connection this long after a failed login", (o, a) => o.AuthFailureDelay = a.Milliseconds(),
            o => Num((long)o.AuthFailureDelay.TotalMilliseconds)),
        Valued('D', null, "char", "key prefix delimiter for \"stats detail\"", (o, a) => o.PrefixDelimiter = a.Value.Length == 1
            ? a.Value[0]
            : throw new CommandLineException($"-D {a.Value}: the prefix delimiter is one character, such as ':'"), o => o.PrefixDelimiter.ToString()),
        Switch('Z', "enable-ssl", "TLS on the TCP listeners; -l notls:<addr> keeps one plain", (o, _) => o.Tls.Enabled = true),
        Valued('o', "extended", "opts", """
            ssl_chain_cert=<pem>, ssl_key=<pem>, ssl_ca_cert=<pem>,
            ssl_verify_mode=0|1|2|3 (none, request, require, once),
            ssl_min_version=tlsv1.2|tlsv1.3, idle_timeout=<s> (close connections
            idle longer); other -o options are ignored
            """, ApplyExtended),
        Valued('U', "udp-port", "num", "accepted; UDP is not served", (o, a) =>
        {
            o.UdpPort = a.WholeNumber();
            if (o.UdpPort != 0)
            {
                o.IgnoredOptions.Add($"-U {o.UdpPort} (UDP is not served)");
            }
        }),
        Ignore('u', "user", true),
        Ignore('R', "max-reqs-per-event", true),
        Ignore('b', "listen-backlog", true),
        Ignore('n', "slab-min-size", true),
        Ignore('P', "pidfile", true),
        Ignore('k', "lock-memory", false),
        Ignore('C', "disable-cas", false),
        Ignore('L', "enable-largepages", false),
        Ignore('r', "enable-coredumps", false),
        Switch('h', "help", "this text", (o, _) => o.ShowHelp = true),
        Switch('V', "version", "print the version and exit", (o, _) => o.ShowVersion = true),
    ];

    /// <summary>-v, -vv and --verbose add up; the command line's first use starts over from what a config file said.</summary>
    internal static void AddVerbosity(ServerOptions options, FlagArgument argument, int count)
    {
        if (argument.OnCommandLine && !argument.State.VerbosityGivenOnCommandLine)
        {
            argument.State.VerbosityGivenOnCommandLine = true;
            options.Verbosity = 0;
        }

        options.Verbosity += count;
    }

    private static void AddListenAddresses(ServerOptions options, FlagArgument argument)
    {
        if (argument.OnCommandLine && !argument.State.ListenGivenOnCommandLine)
        {
            argument.State.ListenGivenOnCommandLine = true;
            options.ListenAddresses.Clear();
        }

        options.ListenAddresses.AddRange(argument.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    /// <summary>memcached's comma-separated key[=value] list: idle_timeout and the ssl_* keys are acted on, the rest reported as ignored.</summary>
    private static void ApplyExtended(ServerOptions options, FlagArgument argument)
    {
        var ignored = new List<string>();
        foreach (var item in argument.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            var key = eq < 0 ? item : item[..eq];
            var value = eq < 0 ? null : item[(eq + 1)..];
            if (key == "idle_timeout")
            {
                options.IdleTimeoutSeconds = new FlagArgument("-o idle_timeout", value, argument.OnCommandLine, argument.State).WholeNumber();
            }
            else if (!options.Tls.TryApply(key, value))
            {
                ignored.Add(item);
            }
        }

        if (ignored.Count > 0)
        {
            options.IgnoredOptions.Add($"-o {string.Join(',', ignored)}");
        }
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A byte count in the largest k/m/g unit that divides it, as the flags take it.</summary>
    private static string Size(long bytes) =>
        bytes % (1024 * Megabyte) == 0 ? Num(bytes / (1024 * Megabyte)) + "g"
        : bytes % Megabyte == 0 ? Num(bytes / Megabyte) + "m"
        : bytes % 1024 == 0 ? Num(bytes / 1024) + "k"
        : Num(bytes);

    private static ServerFlag Valued(char? shortName, string? longName, string valueName, string help, Action<ServerOptions, FlagArgument> apply,
        Func<ServerOptions, string>? defaultText = null) =>
        new() { ShortName = shortName, LongName = longName, ValueName = valueName, Help = help, Apply = apply, Default = defaultText };

    private static ServerFlag Switch(char? shortName, string longName, string help, Action<ServerOptions, FlagArgument> apply) =>
        new() { ShortName = shortName, LongName = longName, Help = help, Apply = apply };

    private static ServerFlag Ignore(char shortName, string longName, bool takesValue) => new()
    {
        ShortName = shortName,
        LongName = longName,
        ValueName = takesValue ? "value" : null,
        Ignored = true,
        Apply = (o, a) => o.IgnoredOptions.Add(takesValue ? $"{a.Written} {a.Value}" : a.Written),
    };
}
