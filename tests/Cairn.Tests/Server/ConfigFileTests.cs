using Cairn.Server.Hosting;
using Cairn.Storage.Log;
using Cairn.Tests.Support;

namespace Cairn.Tests.Server;

/// <summary>`--config FILE.json`: the long flags, through the same parser, with the command line overriding them.</summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "cairn-config-" + Guid.NewGuid().ToString("N") + ".json");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void The_shipped_example_reads_as_the_flags_it_names()
    {
        var options = CommandLine.Parse(["--config", Path.Combine(ExternalTool.RepositoryRoot, "deploy", "cairn.json")]);

        Assert.Equal(11211, options.Port);
        Assert.Equal(["127.0.0.1"], options.ListenAddresses);
        Assert.Equal("/var/lib/cairn", options.DataDirectory);
        Assert.Equal(FsyncPolicy.EverySecond, options.Fsync);
        Assert.Equal(4096, options.MaxConnections);
        Assert.Equal(9150, options.MetricsPort);
        Assert.Equal(LogFormat.Json, options.LogFormat);
        Assert.Equal(1, options.Verbosity);
    }

    [Fact]
    public void The_command_line_overrides_the_file_option_by_option()
    {
        File.WriteAllText(_path, """{ "port": 1111, "listen": ["127.0.0.1", "::1"], "verbose": 2, "evict": true, "fsync": "always" }""");

        var options = CommandLine.Parse(["-p", "2222", "--config", _path, "-l", "127.0.0.2", "-v"]);

        Assert.Equal(2222, options.Port);
        Assert.Equal(["127.0.0.2"], options.ListenAddresses);
        Assert.Equal(1, options.Verbosity);
        Assert.Equal(FsyncPolicy.Always, options.Fsync);
        Assert.True(options.EvictWhenFull);
    }

    [Theory]
    [InlineData("""{ "bogus": 1 }""", "unknown option '--bogus=1' (see -h)")]
    [InlineData("""{ "port": "x" }""", "--port")]
    [InlineData("""{ "p": 1 }""", "'p' is not a long flag name")]
    [InlineData("""{ "port": { "a": 1 } }""", "'port' must be a string, number, true/false or a list of them")]
    [InlineData("""[ 1 ]""", "expected one JSON object")]
    [InlineData("""{ "port": 1""", "not JSON at line 1")]
    public void A_bad_file_is_refused_naming_the_file_and_the_entry(string json, string message)
    {
        File.WriteAllText(_path, json);

        var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["--config", _path]));

        Assert.StartsWith($"--config {_path}: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_is_refused_naming_it() =>
        Assert.StartsWith($"--config {_path}: cannot read it", Assert.Throws<CommandLineException>(() => CommandLine.Parse([$"--config={_path}"])).Message, StringComparison.Ordinal);
}
