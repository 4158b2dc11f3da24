namespace Cairn.Tests.Auth;

/// <summary>A user:password file in a temp directory of its own, removed on dispose.</summary>
internal sealed class AuthFiles : IDisposable
{
    public AuthFiles(string contents = "alice:secret\nbob:pa ss:word\n")
    {
        Directory = Path.Combine(Path.GetTempPath(), "cairn-auth-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        PasswordFile = Path.Combine(Directory, "users");
        File.WriteAllText(PasswordFile, contents);
    }

    public string Directory { get; }

    public string PasswordFile { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
