using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Cairn.Server.Transport;

/// <summary>
/// One thread, one epoll: it learns which of its connections are readable, reads each, answers every complete request
/// and sends the replies before it waits again, as a memcached worker thread does. Other threads reach it only through
/// <see cref="Post"/> (a new connection, a batch whose acknowledgement had to wait, a stop), which an eventfd wakes.
/// Level-triggered, so a connection that reads less than it asked for is drained and one that parks stops being asked.
/// </summary>
internal sealed unsafe partial class EventLoop : IDisposable
{
    private const int EventCapacity = 256;
    private const ulong WakeToken = ulong.MaxValue;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly Thread _thread;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<Action> _posted = new();
    private readonly List<LoopConnection?> _slots = [];
    private readonly Stack<int> _freeSlots = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<Task> _detached = [];
    private int _signalled;
    private uint _generation;
    private int _live;
    private bool _ending;

    public EventLoop(int index, ILogger logger)
    {
        _logger = logger;
        _epoll = LinuxSockets.CreateEpoll();
        _wake = LinuxSockets.CreateEventFd();
        LinuxSockets.Add(_epoll, _wake, LinuxSockets.Readable, WakeToken);
        _thread = new Thread(Run) { IsBackground = true, Name = $"cairn-loop-{index}" };
    }

    /// <summary>
    /// Every connection of this loop reads into this one buffer; only a request cut in half is copied out to the
    /// connection, so an idle connection holds no buffer at all.
    /// </summary>
    public byte[] ReceiveBuffer { get; } = GC.AllocateUninitializedArray<byte>(64 * 1024, pinned: true);

    public Task Ended => _ended.Task;

    /// <summary>Connections that left this loop for the pipe loop, until they end; a stop waits for them too.</summary>
    public void TrackDetached(Task connection)
    {
        lock (_detached)
        {
            _detached.Add(connection);
        }

        connection.ContinueWith(
            static (ended, state) =>
            {
                var detached = (HashSet<Task>)state!;
                lock (detached)
                {
                    detached.Remove(ended);
                }
            },
            _detached,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public Task DetachedEnded()
    {
        lock (_detached)
        {
            return Task.WhenAll([.. _detached]);
        }
    }

    public void Start() => _thread.Start();

    /// <summary>Runs <paramref name="work"/> on this loop's thread; safe from any thread.</summary>
    public void Post(Action work)
    {
        _posted.Enqueue(work);
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            LinuxSockets.Signal(_wake);
        }
    }

    /// <summary>Asks every connection to stop after its batch in progress; the thread ends once none is left.</summary>
    public void BeginEnd() => Post(() =>
    {
        _ending = true;
        foreach (var connection in _slots)
        {
            connection?.Stop();
        }
    });

    /// <summary>Closes whatever did not stop in time (a peer that reads none of its replies).</summary>
    public void ForceEnd() => Post(() =>
    {
        foreach (var connection in _slots)
        {
            connection?.Close();
        }
    });

    public ulong Register(LoopConnection connection, int socket)
    {
        int slot;
        if (_freeSlots.Count > 0)
        {
            slot = _freeSlots.Pop();
            _slots[slot] = connection;
        }
        else
        {
            slot = _slots.Count;
            _slots.Add(connection);
        }

        // The generation keeps an event already fetched for a closed connection from reaching the one in its slot now.
        var token = ((ulong)++_generation << 32) | (uint)slot;
        LinuxSockets.Add(_epoll, socket, LinuxSockets.Readable, token);
        _live++;
        return token;
    }

    public void Watch(int socket, uint events, ulong token) => LinuxSockets.Modify(_epoll, socket, events, token);

    public void Unregister(int socket, ulong token)
    {
        LinuxSockets.Remove(_epoll, socket);
        var slot = (int)(uint)token;
        _slots[slot] = null;
        _freeSlots.Push(slot);
        _live--;
    }

    public void Dispose()
    {
        LinuxSockets.CloseDescriptor(_wake);
        LinuxSockets.CloseDescriptor(_epoll);
    }

    private void Run()
    {
        var events = (byte*)NativeMemory.Alloc((nuint)(EventCapacity * LinuxSockets.EventSize));
        try
        {
            while (!(_ending && _live == 0))
            {
                var count = LinuxSockets.Wait(_epoll, events, EventCapacity, -1);
                for (int i = 0; i < count; i++)
                {
                    var token = LinuxSockets.DataAt(events, i);
                    if (token == WakeToken)
                    {
                        RunPosted();
                        continue;
                    }

                    var connection = _slots[(int)(uint)token];
                    if (connection is not null && connection.Token == token)
                    {
                        Dispatch(connection, LinuxSockets.EventsAt(events, i));
                    }
                }
            }
        }
        catch (Exception error)
        {
            LogLoopFailed(_logger, _thread.Name!, error);
        }
        finally
        {
            NativeMemory.Free(events);
            _ended.TrySetResult();
        }
    }

    private void RunPosted()
    {
        // The eventfd is read before the flag is cleared, and both before draining: a post that found the flag set
        // is drained below, and one after the flag is cleared signals again. Cleared the other way round, a post
        // between the two would leave the flag set and the eventfd empty, and every later post would go unwoken.
        LinuxSockets.ClearSignal(_wake);
        Volatile.Write(ref _signalled, 0);
        while (_posted.TryDequeue(out var work))
        {
            try
            {
                work();
            }
            catch (Exception error)
            {
                LogWorkFailed(_logger, error);
            }
        }
    }

    private void Dispatch(LoopConnection connection, uint events)
    {
        try
        {
            connection.OnEvents(events);
        }
        catch (Exception error)
        {
            // One connection's failure (a bug in answering it) costs that connection, never the loop's others.
            LogConnectionFailed(_logger, connection.Id, error);
            connection.Close();
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Critical, Message = "event loop {Name} stopped")]
    private static partial void LogLoopFailed(ILogger logger, string name, Exception error);

    [LoggerMessage(EventId = 22, Level = LogLevel.Error, Message = "event loop work failed")]
    private static partial void LogWorkFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 21, Level = LogLevel.Error, Message = "connection {Id} closed after an error")]
    private static partial void LogConnectionFailed(ILogger logger, long id, Exception error);
}
