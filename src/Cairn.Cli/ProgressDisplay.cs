using Spectre.Console;

namespace Cairn.Cli;

/// <summary>
/// The progress of bench, reshard and backup, on stderr so stdout stays the result: a Spectre.Console bar (done,
/// percentage, time left) on a terminal, a plain line per interval into a pipe or a log, where a redrawn bar is noise.
/// </summary>
internal static class ProgressDisplay
{
    public static async Task RunAsync(TextWriter error, Task work, double total, Func<(double Done, string Text)> sample, TimeSpan interval)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(error) });
        if (!console.Profile.Capabilities.Interactive)
        {
            while (await Task.WhenAny(work, Task.Delay(interval)) != work)
            {
                await error.WriteLineAsync(sample().Text);
            }

            // Where it ended, so a run shorter than one interval (or a slow machine's) still shows its progress once.
            await error.WriteLineAsync(sample().Text);
            return;
        }

        await console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("starting", maxValue: Math.Max(total, 1));
                while (await Task.WhenAny(work, Task.Delay(interval)) != work)
                {
                    var (done, text) = sample();
                    task.Value = Math.Min(done, task.MaxValue);
                    task.Description = Markup.Escape(text);
                }

                task.Value = task.MaxValue;
            });
    }
}
