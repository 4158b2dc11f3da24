using Cairn.Server.Hosting;
using Cairn.Storage;
using Cairn.Storage.Durability;
using Cairn.Storage.Log;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Tests.Server;

/// <summary>The one flag table: parsing, --help and the option types' own range checks agree.</summary>
public class ServerFlagTableTests
{
    public static TheoryData<string> LongNames => [.. ServerFlags.All.Where(flag => flag.LongName is not null).Select(flag => flag.LongName!)];

    [Theory]
    [MemberData(nameof(LongNames))]
    public void Every_flag_in_the_table_is_in_the_help(string name)
    {
        var flag = ServerFlags.All.Single(flag => flag.LongName == name);
        var expected = flag.Ignored ? "-" + flag.ShortName : "--" + name;
        Assert.Contains(expected, CommandLine.HelpText, StringComparison.Ordinal);
    }

    [Fact]
    public void No_flag_name_is_used_twice()
    {
        var names = ServerFlags.All.SelectMany(flag => new[] { flag.ShortName?.ToString(), flag.LongName }).OfType<string>().ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Help_prints_the_defaults_the_options_start_with()
    {
        var defaults = new ServerOptions();
        Assert.Contains($"(default: {ServerOptions.DefaultPort})", CommandLine.HelpText, StringComparison.Ordinal);
        Assert.Contains($"(default: {defaults.MemoryLimitBytes / (1024 * 1024)})", CommandLine.HelpText, StringComparison.Ordinal);
        Assert.Contains($"(default: {ServerOptions.DefaultListenAddress})", CommandLine.HelpText, StringComparison.Ordinal);
        Assert.Contains("(default: everysec)", CommandLine.HelpText, StringComparison.Ordinal);
    }

    [Fact]
    public void The_server_defaults_are_the_storage_defaults()
    {
        var server = new ServerOptions();
        var store = server.ToStoreOptions(TimeProvider.System);
        var fresh = new StoreOptions();
        Assert.Equal((fresh.MemoryLimit, fresh.MaxItemSize, fresh.GrowthFactor, fresh.EvictWhenFull),
            (store.MemoryLimit, store.MaxItemSize, store.GrowthFactor, store.EvictWhenFull));

        var durability = server.ToDurabilityOptions(TimeProvider.System, NullLogger.Instance);
        var freshDurability = new DurabilityOptions { DataDirectory = "x" };
        Assert.Equal((freshDurability.Fsync, freshDurability.SegmentSize, freshDurability.CompactMinimumBytes, freshDurability.CompactDeadRatio),
            (durability.Fsync, durability.SegmentSize, durability.CompactMinimumBytes, durability.CompactDeadRatio));
        Assert.Equal(new LogOptions { Directory = "x" }.SegmentSize, durability.SegmentSize);
    }

    [Fact]
    public void Option_types_refuse_values_they_cannot_run_with()
    {
        Assert.Throws<OptionValueException>(() => new ServerOptions { Port = 65536 });
        Assert.Throws<OptionValueException>(() => new ServerOptions { SyncReplicas = -1 });
        Assert.Throws<OptionValueException>(() => new ServerOptions { MetricsPort = 0 });
        Assert.Throws<OptionValueException>(() => new StoreOptions { GrowthFactor = 1.0 });
        Assert.Throws<OptionValueException>(() => new StoreOptions { MemoryLimit = -1 });
        Assert.Throws<OptionValueException>(() => new DurabilityOptions { DataDirectory = "x", CompactDeadRatio = 1.0 });
        Assert.Throws<OptionValueException>(() => new LogOptions { Directory = "x", SegmentSize = 0 });
        Assert.Null(new ServerOptions { MetricsPort = null }.MetricsPort);
    }

    [Theory]
    [InlineData("-p 70000", "invalid value '70000' for -p: must be 0 to 65535")]
    [InlineData("--port=-1", "invalid value '-1' for --port: must be 0 to 65535")]
    [InlineData("-f 0.9", "invalid value '0.9' for -f: must be greater than 1")]
    [InlineData("--compact-dead-ratio 1", "invalid value '1' for --compact-dead-ratio: must be between 0 and 1")]
    [InlineData("-c many", "invalid value 'many' for -c: not a whole number")]
    [InlineData("--evict=yes", "option '--evict' takes no value (remove '=yes')")]
    [InlineData("-Ax", "unknown option '-Ax' (see -h)")]
    [InlineData("-o idle_timeout=-5", "invalid value 'idle_timeout=-5' for -o: must be 0 to 2147483647")]
    [InlineData("--max-get-line 1k", "invalid value '1k' for --max-get-line: must be 2048 to 1073741824")]
    [InlineData("stray", "unexpected argument 'stray'")]
    public void A_bad_value_names_the_flag_as_written_and_the_range(string args, string message) =>
        Assert.Equal(message, Assert.Throws<CommandLineException>(() => CommandLine.Parse(args.Split(' '))).Message);

    [Fact]
    public void Ignored_flags_take_a_value_only_where_memcached_does()
    {
        var options = CommandLine.Parse(["-u", "memcache", "-k", "-P", "/run/m.pid", "-C", "-n48"]);
        Assert.Equal(["-u memcache", "-k", "-P /run/m.pid", "-C", "-n 48"], options.IgnoredOptions);
    }
}
