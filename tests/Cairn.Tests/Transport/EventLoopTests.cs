using Cairn.Server.Transport;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cairn.Tests.Transport;

public sealed class EventLoopTests
{
    [Fact]
    public async Task Every_post_from_any_thread_runs_without_another_wake()
    {
        // Posts race the loop's draining from four threads; a lost wakeup leaves work queued until some later event,
        // which this loop (with no connections) never gets, so the count stops short and the wait below times out.
        const int PostsPerThread = 20_000;
        using var loop = new EventLoop(0, NullLogger.Instance);
        loop.Start();
        var ran = 0;
        var posters = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < PostsPerThread; i++)
            {
                loop.Post(() => ran++);
                if (i % 64 == 0)
                {
                    Thread.Yield();
                }
            }
        })).ToArray();
        await Task.WhenAll(posters);

        // The queue is first in, first out: once this runs, every earlier post has.
        var last = new TaskCompletionSource();
        loop.Post(last.SetResult);
        await last.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4 * PostsPerThread, Volatile.Read(ref ran));
        loop.BeginEnd();
        await loop.Ended.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
