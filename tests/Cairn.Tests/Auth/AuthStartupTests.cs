using Cairn.Server.Auth;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;

namespace Cairn.Tests.Auth;

/// <summary>-S and -Y on the command line, memcached's refusals of combinations that would bypass them, and bad password files.</summary>
public sealed class AuthStartupTests : IDisposable
{
    private readonly AuthFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Dash_Y_pins_ascii_and_dash_S_pins_binary()
    {
        var ascii = CommandLine.Parse(["-Y", _files.PasswordFile]);
        Assert.Equal(_files.PasswordFile, ascii.AuthFile);
        Assert.Equal(ProtocolMode.Ascii, ascii.Protocol);
        Assert.Equal(ProtocolMode.Ascii, CommandLine.Parse([$"--auth-file={_files.PasswordFile}", "-B", "ascii"]).Protocol);

        Environment.SetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable, _files.PasswordFile);
        try
        {
            var binary = CommandLine.Parse(["-S"]);
            Assert.True(binary.SaslEnabled);
            Assert.Equal(_files.PasswordFile, binary.SaslPasswordFile);
            Assert.Equal(ProtocolMode.Binary, binary.Protocol);
            Assert.Equal(ProtocolMode.Binary, CommandLine.Parse(["--enable-sasl", "-B", "binary"]).Protocol);
        }
        finally
        {
            Environment.SetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable, null);
        }
    }

    [Theory]
    [InlineData("-B binary", "BINARY protocol")]
    [InlineData("-B auto", "BINARY protocol")]
    [InlineData("-U 11211", "UDP")]
    public void Dash_Y_refuses_what_would_bypass_it(string extra, string message)
    {
        var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["-Y", _files.PasswordFile, .. extra.Split(' ')]));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-B ascii", "ASCII protocol")]
    [InlineData("-B auto", "ASCII protocol")]
    [InlineData("-U 11211", "UDP")]
    [InlineData("-Y FILE", "together")]
    public void Dash_S_refuses_what_would_bypass_it(string extra, string message)
    {
        Environment.SetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable, _files.PasswordFile);
        try
        {
            var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["-S", .. extra.Replace("FILE", _files.PasswordFile, StringComparison.Ordinal).Split(' ')]));
            Assert.Contains(message, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable, null);
        }
    }

    [Fact]
    public void Dash_S_without_a_password_database_is_refused()
    {
        Environment.SetEnvironmentVariable(CredentialStore.SaslPasswordDatabaseVariable, null);
        var error = Assert.Throws<CommandLineException>(() => CommandLine.Parse(["-S"]));
        Assert.Contains(CredentialStore.SaslPasswordDatabaseVariable, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_password_file_stops_startup_with_a_clear_error()
    {
        var missing = Path.Combine(_files.Directory, "nope");
        var error = await Assert.ThrowsAsync<CredentialFileException>(() => TestServer.StartAsync(options =>
        {
            options.Persist = false;
            options.AuthFile = missing;
        }));
        Assert.Contains(missing, error.Message, StringComparison.Ordinal);
        Assert.Contains("-Y", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_password_file_leaves_the_data_directory_unlocked()
    {
        var dataDirectory = Path.Combine(_files.Directory, "data");
        await Assert.ThrowsAsync<CredentialFileException>(() => TestServer.StartAsync(options =>
        {
            options.DataDirectory = dataDirectory;
            options.AuthFile = Path.Combine(_files.Directory, "nope");
        }));

        // The failed start released its lock: the same directory opens again at once.
        await using var server = await TestServer.StartAsync(options => options.DataDirectory = dataDirectory);
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("set k 0 0 1\r\nx\r\n", "STORED\r\n");
    }

    [Fact]
    public void Malformed_password_file_is_refused_without_echoing_the_line()
    {
        File.WriteAllText(_files.PasswordFile, "alice:secret\nhunter2\n");
        var error = Assert.Throws<CredentialFileException>(() => CredentialStore.Load(_files.PasswordFile, "-S"));
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Credentials_match_only_exactly()
    {
        var store = CredentialStore.Load(_files.PasswordFile, "-Y");
        Assert.Equal(2, store.Count);
        Assert.True(store.Check("alice"u8, "secret"u8));
        Assert.True(store.Check("bob"u8, "pa ss:word"u8));
        Assert.False(store.Check("alice"u8, "secre"u8));
        Assert.False(store.Check("alice"u8, "secret "u8));
        Assert.False(store.Check("bob"u8, "secret"u8));
        Assert.False(store.Check(""u8, ""u8));
    }
}
