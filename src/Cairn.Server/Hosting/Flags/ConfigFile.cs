using System.Globalization;
using System.Text.Json;

namespace Cairn.Server.Hosting;

/// <summary>
/// `--config FILE.json`: the long flags as a JSON object, so a service unit need not carry twenty flags. Each entry
/// becomes the flag it names (<c>"port": 11211</c> is <c>--port=11211</c>, <c>"evict": true</c> is <c>--evict</c>,
/// <c>"listen": ["127.0.0.1", "::1"]</c> is <c>--listen=127.0.0.1,::1</c>, <c>"verbose": 2</c> is <c>-vv</c>) and goes
/// through the same parser and checks as the command line, before it; the command line then overrides it.
/// </summary>
public static class ConfigFile
{
    /// <summary>The flags from the file named by --config (if any), and the command line without that option.</summary>
    public static (string? Path, List<string> FromFile, List<string> CommandLine) Split(IReadOnlyList<string> args)
    {
        var rest = new List<string>(args.Count);
        string? path = null;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--config")
            {
                path = i + 1 < args.Count ? args[++i] : throw new CommandLineException("option '--config' needs a value");
            }
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal))
            {
                path = args[i]["--config=".Length..];
            }
            else
            {
                rest.Add(args[i]);
            }
        }

        return (path, path is null ? [] : Read(path), rest);
    }

    private static List<string> Read(string path)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new CommandLineException($"--config {path}: cannot read it: {error.Message}");
        }
        catch (JsonException error)
        {
            throw new CommandLineException($"--config {path}: not JSON at line {error.LineNumber + 1}: {error.Message}");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new CommandLineException($"--config {path}: expected one JSON object of long flag names, like {{\"port\": 11211}}");
            }

            var flags = new List<string>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                var name = entry.Name;
                if (name.Length < 2 || name.StartsWith('-') || name == "config")
                {
                    throw new CommandLineException($"--config {path}: '{name}' is not a long flag name (write \"port\", not \"p\" or \"--port\")");
                }

                switch (entry.Value.ValueKind)
                {
                    case JsonValueKind.True:
                        flags.Add("--" + name);
                        break;
                    case JsonValueKind.False or JsonValueKind.Null:
                        break;
                    case JsonValueKind.Number when name == "verbose":
                        flags.AddRange(Enumerable.Repeat("--verbose", entry.Value.GetInt32()));
                        break;
                    case JsonValueKind.Number:
                        flags.Add($"--{name}={entry.Value.GetRawText()}");
                        break;
                    case JsonValueKind.String:
                        flags.Add($"--{name}={entry.Value.GetString()}");
                        break;
                    case JsonValueKind.Array when entry.Value.EnumerateArray().All(item => item.ValueKind is JsonValueKind.String or JsonValueKind.Number):
                        flags.Add($"--{name}=" + string.Join(',', entry.Value.EnumerateArray().Select(item =>
                            item.ValueKind == JsonValueKind.String ? item.GetString() : item.GetRawText())));
                        break;
                    default:
                        throw new CommandLineException(string.Create(CultureInfo.InvariantCulture,
                            $"--config {path}: '{name}' must be a string, number, true/false or a list of them"));
                }
            }

            return flags;
        }
    }
}
