using Cairn.Server.Hosting;

namespace Cairn.Tests.Server;

public class CommandLineTests
{
    [Fact]
    public void Defaults_are_port_9889_on_loopback_with_memcached_limits()
    {
        var options = CommandLine.Parse([]);
        Assert.Equal(9889, options.Port);
        Assert.Empty(options.ListenAddresses);
        Assert.Equal(1024, options.MaxConnections);
        Assert.Equal(1024 * 1024, options.MaxItemSize);
        Assert.False(options.EvictWhenFull);
        Assert.True(options.TcpEnabled);
    }

    [Fact]
    public void Memcached_style_flags_parse_glued_and_separate()
    {
        var options = CommandLine.Parse(["-p11311", "-l", "127.0.0.1,::1", "-c", "10", "-m", "64", "-I", "2m", "-vv", "-A", "-F", "-t", "8", "--evict"]);
        Assert.Equal(11311, options.Port);
        Assert.Equal(["127.0.0.1", "::1"], options.ListenAddresses);
        Assert.Equal(10, options.MaxConnections);
        Assert.Equal(64L * 1024 * 1024, options.MemoryLimitBytes);
        Assert.Equal(2 * 1024 * 1024, options.MaxItemSize);
        Assert.Equal(2, options.Verbosity);
        Assert.True(options.ShutdownCommandEnabled);
        Assert.False(options.FlushEnabled);
        Assert.Equal(8, options.Threads);
        Assert.True(options.EvictWhenFull);
    }

    [Fact]
    public void Harness_flags_are_accepted_and_ignored()
    {
        var options = CommandLine.Parse(["-U", "0", "-u", "root", "-o", "modern,no_lru_crawler", "--port=1234"]);
        Assert.Equal(1234, options.Port);
        Assert.Equal(2, options.IgnoredOptions.Count);
    }

    [Fact]
    public void Unix_socket_alone_turns_tcp_off_unless_a_port_is_given()
    {
        Assert.False(CommandLine.Parse(["-s", "/tmp/x.sock"]).TcpEnabled);
        Assert.True(CommandLine.Parse(["-s", "/tmp/x.sock", "-p", "1"]).TcpEnabled);
    }

    [Theory]
    [InlineData("-p", "notaport")]
    [InlineData("-I", "12")]
    [InlineData("--no-such-flag")]
    [InlineData("-p")]
    public void Bad_flags_are_refused_with_a_message(params string[] args)
    {
        var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(args));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void Replication_flags_are_read()
    {
        var options = CommandLine.Parse(["--sync-replicas", "2", "--sync-timeout=250", "--etcd", "http://127.0.0.1:2379,http://127.0.0.1:2479",
            "--cluster", "c1", "--node-id", "a", "--advertise", "127.0.0.1:11211", "--lease-ttl", "3"]);
        Assert.Equal(2, options.SyncReplicas);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.SyncTimeout);
        Assert.Equal(("c1", "a", "127.0.0.1:11211", 3), (options.ClusterName, options.NodeId, options.Advertise, options.LeaseTtlSeconds));
    }

    [Theory]
    [InlineData("--etcd http://127.0.0.1:2379 --cluster c --node-id a", "--etcd needs --cluster NAME, --node-id ID and --advertise HOST:PORT")]
    [InlineData("--cluster c --node-id a --advertise 127.0.0.1:1", "go with --etcd URL")]
    [InlineData("--etcd 127.0.0.1:2379 --cluster c --node-id a --advertise 127.0.0.1:1", "--etcd 127.0.0.1:2379: give http://host:port URLs")]
    [InlineData("--etcd http://h:1 --cluster c --node-id a/b --advertise 127.0.0.1:1", "without spaces or slashes")]
    [InlineData("--etcd http://h:1 --cluster c --node-id a --advertise 127.0.0.1:1 --replica-of 127.0.0.1:2", "both choose the primary")]
    [InlineData("--sync-replicas 1 --no-persist", "--sync-replicas needs the log")]
    [InlineData("--sync-replicas 17", "--sync-replicas")]
    [InlineData("--lease-ttl 1 --etcd http://h:1 --cluster c --node-id a --advertise 127.0.0.1:1", "--lease-ttl")]
    public void Replication_flags_that_cannot_work_together_name_the_fix(string args, string words)
    {
        var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(args.Split(' ')));
        Assert.Contains(words, error.Message, StringComparison.Ordinal);
    }
}
