namespace Cairn.Client;

/// <summary>Where the servers are and how long to wait for them.</summary>
public sealed class CairnClientOptions
{
    /// <summary>
    /// Servers as <c>host:port</c> or <c>host:port:weight</c>; keys are spread across several with ketama consistent
    /// hashing (weights count in <see cref="KetamaMode.KetamaWeighted"/> only, as in libmemcached).
    /// </summary>
    public IList<string> Servers { get; } = new List<string> { "127.0.0.1:9889" };

    /// <summary>How long one operation may take before it fails with a <see cref="TimeoutException"/>.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long to wait for a connection to a server.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Connections kept open to each server; concurrent callers pipeline over them.</summary>
    public int ConnectionsPerServer { get; set; } = 2;

    /// <summary>
    /// When true, <see cref="Servers"/> are one Cairn primary and its replicas rather than shards: every request goes to
    /// the server whose <c>stats replication</c> says <c>role primary</c>. After a failover the client looks again, on
    /// the first write a former primary refuses (<c>replica is read-only</c>) or the first server it cannot reach, and
    /// retries that one request once; a request whose connection broke after it was sent is not retried, since it
    /// may have been applied.
    /// </summary>
    public bool FollowPrimary { get; set; }

    /// <summary>Which libmemcached key placement to reproduce when there are several servers.</summary>
    public KetamaMode Ketama { get; set; } = KetamaMode.Ketama;
}

/// <summary>The libmemcached consistent-hashing variants a key placement can match.</summary>
public enum KetamaMode
{
    /// <summary>
    /// libmemcached's <c>MEMCACHED_BEHAVIOR_KETAMA</c> (pylibmc <c>{"ketama": True}</c>): 100 points per server,
    /// each the one-at-a-time hash of <c>host:port-N</c> (<c>host-N</c> on port 11211); keys hashed one-at-a-time.
    /// </summary>
    Ketama,

    /// <summary>
    /// libmemcached's <c>MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED</c> (pylibmc <c>{"ketama_weighted": True}</c>), the
    /// classic last.fm ketama: 160 points per equally weighted server, four from each MD5 of <c>host:port-N</c>;
    /// keys hashed with MD5.
    /// </summary>
    KetamaWeighted,
}
