using Cairn.Server.Auth;
using Cairn.Server.Stats;
using Cairn.Storage;
using Cairn.Storage.Durability;

namespace Cairn.Server.Hosting;

/// <summary>What every connection shares: the store, the settings, the statistics and the clock.</summary>
public sealed class ServerContext
{
    private int _verbosity;

    public ServerContext(IItemStore store, ServerOptions options, TimeProvider time, DurableStore? durability = null)
    {
        Store = store;
        Durability = durability;
        Options = options;
        Time = time;
        Statistics = new ServerStatistics(time);
        Prefixes = new Stats.PrefixStatistics(options.PrefixDelimiter);
        Log = new ServerLog(this);
        StatsReporter = new Stats.StatsReporter(this);
        _verbosity = options.Verbosity;
        Credentials = LoadCredentials(options);
    }

    /// <summary>The listening sockets once started, for "stats conns" (null marks the unix socket).</summary>
    public IReadOnlyList<System.Net.EndPoint?> Listeners { get; internal set; } = [];

    /// <summary>Replication (a primary's streamer, a replica's follower); null without a persistent log.</summary>
    public ReplicationControl? Replication { get; internal set; }

    /// <summary>Cancelled when the server begins to stop: long-running connection work (a replication stream) ends.</summary>
    public CancellationToken Stopping { get; internal set; }

    /// <summary>Answers "stats" for every connection; it keeps no state of its own.</summary>
    public Stats.StatsReporter StatsReporter { get; }

    /// <summary>Lines whose level follows -v and "verbosity".</summary>
    public ServerLog Log { get; }

    /// <summary>"stats detail": per-prefix counts, while switched on.</summary>
    public Stats.PrefixStatistics Prefixes { get; }

    /// <summary>The users of -S or -Y; null when connections need no authentication.</summary>
    public CredentialStore? Credentials { get; }

    /// <summary>-S: a binary connection must authenticate with SASL PLAIN before anything but version.</summary>
    public bool SaslRequired => Options.SaslEnabled;

    /// <summary>-Y: a text connection must authenticate with memcached's "set" handshake first.</summary>
    public bool AsciiAuthRequired => !Options.SaslEnabled && Options.AuthFile is not null;

    public IItemStore Store { get; }

    /// <summary>The log behind the store; null with --no-persist.</summary>
    public DurableStore? Durability { get; }

    public ServerOptions Options { get; }

    public TimeProvider Time { get; }

    public ServerStatistics Statistics { get; }

    public ConnectionRegistry Connections { get; } = new();

    /// <summary>The memcached protocol level Cairn implements, which clients parse to pick features.</summary>
    public const string ProtocolVersion = "1.6.45";

    public static string CairnVersion { get; } = typeof(ServerContext).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    /// <summary>What "version" and "stats" report: memcached's numbering first, so version checks in clients pass.</summary>
    public static string Version { get; } = $"{ProtocolVersion}-cairn-{CairnVersion}";

    /// <summary>The "verbosity" command changes this at run time, as in memcached.</summary>
    public int Verbosity
    {
        get => Volatile.Read(ref _verbosity);
        set => Volatile.Write(ref _verbosity, value);
    }

    /// <summary>Raised by the "shutdown" command (only with -A); the host stops gracefully.</summary>
    public event Action? ShutdownRequested;

    public long NowUnixSeconds => Time.GetUtcNow().ToUnixTimeSeconds();

    public void RequestShutdown() => ShutdownRequested?.Invoke();

    private static CredentialStore? LoadCredentials(ServerOptions options)
    {
        if (options.SaslEnabled)
        {
            var path = options.SaslPasswordFile ?? Environment.GetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable);
            return string.IsNullOrEmpty(path)
                ? throw new CredentialFileException($"-S needs {CredentialStore.SaslPasswordDatabaseVariable} to name a file of user:password lines")
                : CredentialStore.Load(path, "-S");
        }

        return options.AuthFile is { } authFile ? CredentialStore.Load(authFile, "-Y") : null;
    }
}
