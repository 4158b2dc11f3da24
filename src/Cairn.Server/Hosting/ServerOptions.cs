using Cairn.Storage;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;

namespace Cairn.Server.Hosting;

/// <summary>
/// Everything the command line can set. Each default is written here once (or in the storage option type it feeds),
/// and each setter refuses a value out of its range with <see cref="OptionValueException"/>; <see cref="ServerFlags"/>
/// maps flags onto these properties and prints the defaults in --help from a fresh instance.
/// </summary>
public sealed class ServerOptions
{
    public const int DefaultPort = 9889;

    /// <summary>Where a server listens when -l is not given: loopback, so opening it up is a decision.</summary>
    public const string DefaultListenAddress = "127.0.0.1";

    public int Port { get; set => field = OptionValue.Within(value, 0, 65535); } = DefaultPort;

    /// <summary>True when -p was given, so -s does not turn TCP off.</summary>
    public bool PortGiven { get; set; }

    /// <summary>-l: addresses to bind; loopback unless the operator opens it up.</summary>
    public List<string> ListenAddresses { get; } = [];

    /// <summary>The -l addresses, or the loopback default when none were given.</summary>
    public IReadOnlyList<string> ListenAddressesOrDefault => ListenAddresses.Count == 0 ? [DefaultListenAddress] : ListenAddresses;

    public string? UnixSocketPath { get; set; }

    /// <summary>-a: permissions of the unix socket, octal as in memcached.</summary>
    public int UnixSocketMask { get; set; } = Convert.ToInt32("700", 8);

    public int MaxConnections { get; set => field = OptionValue.Within(value, 1, int.MaxValue); } = 1024;

    public long MemoryLimitBytes { get; set => field = OptionValue.AtLeast(value, 1); } = StoreOptions.DefaultMemoryLimit;

    public int MaxItemSize { get; set => field = OptionValue.Within(value, 1, 1024 * 1024 * 1024); } = StoreOptions.DefaultMaxItemSize;

    /// <summary>--max-get-line: the longest multi-key get line a connection may buffer (memcached has no bound; each byte of it is memory).</summary>
    public int MaxGetLineLength { get; set => field = OptionValue.Within(value, 2048, 1024 * 1024 * 1024); } = Cairn.Server.Connections.TextProtocolSession.DefaultMaxMultiGetLineLength;

    public int Threads { get; set => field = OptionValue.Within(value, 1, 1024); } = 4;

    public bool EvictWhenFull { get; set; }

    /// <summary>-M: refuse writes when memory is full instead of keeping the coldest values only on disk.</summary>
    public bool RefuseWhenFull { get; set; }

    /// <summary>Values may live only on disk once -m is reached: the log is there to read them back and nothing says otherwise.</summary>
    public bool ValuesBeyondMemory => Persist && !EvictWhenFull && !RefuseWhenFull;

    /// <summary>--disk-limit: writes are refused once the log holds this many bytes; 0 leaves it to the disk.</summary>
    public long DiskLimitBytes { get; set => field = OptionValue.AtLeast(value, 0); }

    public bool ShutdownCommandEnabled { get; set; }

    public bool FlushEnabled { get; set; } = true;

    public int Verbosity { get; set; }

    /// <summary>--auth-failure-delay=MS: how long a connection waits after a failed authentication (0: not at all).</summary>
    public TimeSpan AuthFailureDelay { get; set => field = OptionValue.Within(value, TimeSpan.Zero, TimeSpan.FromMinutes(1)); }

    /// <summary>-o idle_timeout=N: close connections idle longer than N seconds (0, the default, never does).</summary>
    public int IdleTimeoutSeconds { get; set => field = OptionValue.Within(value, 0, int.MaxValue); }

    /// <summary>-D: the character that ends a key's prefix for "stats detail".</summary>
    public char PrefixDelimiter { get; set; } = ':';

    public double GrowthFactor { get; set => field = OptionValue.Above(value, 1.0); } = StoreOptions.DefaultGrowthFactor;

    public int UdpPort { get; set => field = OptionValue.Within(value, 0, 65535); }

    /// <summary>-B: which protocols a connection may speak; auto picks per connection from its first byte.</summary>
    public ProtocolMode Protocol { get; set; } = ProtocolMode.Auto;

    /// <summary>
    /// --enable-replicaof: allow the "replicaof" command. Off by default, as memcached's shutdown is without -A: a client
    /// that could point a primary at a server of its choosing could have it replaced by a full resync from there.
    /// </summary>
    public bool ReplicaOfCommandEnabled { get; set; }

    /// <summary>--replica-of HOST:PORT: follow that primary from the start (read-only until "replicaof no one").</summary>
    public string? ReplicaOf { get; set; }

    /// <summary>
    /// --sync-replicas N: a batch's replies leave only once N replicas also hold its records durably (0: only the
    /// local log). With --etcd, the N replicas are the in-sync set the cluster may elect from.
    /// </summary>
    public int SyncReplicas { get; set => field = OptionValue.Within(value, 0, 16); }

    /// <summary>
    /// --metrics-port N: serve Prometheus text format at /metrics over HTTP on this port, on the first -l address
    /// (loopback by default); null: no metrics listener.
    /// </summary>
    public int? MetricsPort { get; set => field = value is { } port ? OptionValue.Within(port, 1, 65535) : null; }

    /// <summary>--log-format text|json: stderr lines for a person, or one JSON object per line for a log shipper.</summary>
    public LogFormat LogFormat { get; set; } = LogFormat.Text;

    /// <summary>--sync-timeout MS: how long a batch waits for its replicas before its writes are answered with an error.</summary>
    public TimeSpan SyncTimeout { get; set => field = OptionValue.Within(value, TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1)); } = TimeSpan.FromSeconds(1);

    /// <summary>--etcd URL[,URL...]: coordinate leadership and failover through etcd; null: failover is manual.</summary>
    public string? EtcdEndpoints { get; set; }

    /// <summary>--cluster NAME: the etcd key prefix shared by one primary and its replicas.</summary>
    public string? ClusterName { get; set; }

    /// <summary>--node-id ID: this node's name in the cluster (stable across restarts).</summary>
    public string? NodeId { get; set; }

    /// <summary>--advertise HOST:PORT: where the others (replicas and clients) reach this node.</summary>
    public string? Advertise { get; set; }

    /// <summary>--lease-ttl SECONDS: the leader's etcd lease; a failed primary is replaced about this long after it stops.</summary>
    public int LeaseTtlSeconds { get; set => field = OptionValue.Within(value, 2, 600); } = 5;

    /// <summary>--data-dir: where the log lives.</summary>
    public string DataDirectory { get; set; } = "./data";

    /// <summary>--no-persist: a pure cache, and the baseline the fsync modes are measured against.</summary>
    public bool Persist { get; set; } = true;

    public FsyncPolicy Fsync { get; set; } = LogOptions.DefaultFsync;

    public long SegmentSize { get; set => field = OptionValue.AtLeast(value, 1); } = LogOptions.DefaultSegmentSize;

    public bool TruncateCorruptLog { get; set; }

    public long CompactMinimumBytes { get; set => field = OptionValue.AtLeast(value, 1); } = DurabilityOptions.DefaultCompactMinimumBytes;

    public double CompactDeadRatio { get; set => field = OptionValue.Between(value, 0, 1); } = DurabilityOptions.DefaultCompactDeadRatio;

    /// <summary>-Z and -o ssl_*: TLS on the TCP listeners.</summary>
    public Cairn.Server.Tls.TlsOptions Tls { get; } = new();

    /// <summary>-S: binary connections must pass SASL PLAIN first; text connections are refused (binary only).</summary>
    public bool SaslEnabled { get; set; }

    /// <summary>With -S, the user:password file; null means the MEMCACHED_SASL_PWDB environment variable.</summary>
    public string? SaslPasswordFile { get; set; }

    /// <summary>-Y: text connections must authenticate with a "set" carrying "user password"; binary is refused (ascii only).</summary>
    public string? AuthFile { get; set; }

    public List<string> IgnoredOptions { get; } = [];

    public bool ShowHelp { get; set; }

    public bool ShowVersion { get; set; }

    public bool TcpEnabled => UnixSocketPath is null || PortGiven;

    public DurabilityOptions ToDurabilityOptions(TimeProvider time, Microsoft.Extensions.Logging.ILogger logger) => new()
    {
        DataDirectory = DataDirectory,
        Fsync = Fsync,
        SegmentSize = SegmentSize,
        TruncateAtCorruption = TruncateCorruptLog,
        CompactMinimumBytes = CompactMinimumBytes,
        CompactDeadRatio = CompactDeadRatio,
        DiskLimit = DiskLimitBytes,
        Time = time,
        Logger = logger,
    };

    public StoreOptions ToStoreOptions(TimeProvider time) => new()
    {
        MemoryLimit = MemoryLimitBytes,
        MaxItemSize = MaxItemSize,
        EvictWhenFull = EvictWhenFull,
        ValuesBeyondMemory = ValuesBeyondMemory,
        GrowthFactor = GrowthFactor,
        Time = time,
    };
}

/// <summary>memcached's -B binding protocol.</summary>
public enum ProtocolMode
{
    Auto,
    Ascii,
    Binary,
}
