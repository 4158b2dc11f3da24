using System.Runtime.InteropServices;

namespace Cairn.Server.Transport;

/// <summary>
/// epoll, eventfd, recv and send, called directly. .NET's own socket engine keeps its epoll to itself and always
/// tries an operation before waiting (one extra recv per request, and a zero-byte one before that); an event loop that
/// owns its epoll can trust a short read to mean "drained", as memcached does, and answer on the thread that read.
/// </summary>
internal static unsafe partial class LinuxSockets
{
    public const uint Readable = 0x001;
    public const uint Writable = 0x004;
    public const uint Error = 0x008;
    public const uint HangUp = 0x010;

    public const int TryAgain = 11;      // EAGAIN
    public const int Interrupted = 4;    // EINTR

    private const int ControlAdd = 1;
    private const int ControlDelete = 2;
    private const int ControlModify = 3;
    private const int CloseOnExec = 0x80000;    // EPOLL_CLOEXEC, EFD_CLOEXEC
    private const int EventNonBlocking = 0x800; // EFD_NONBLOCK
    private const int NoSignal = 0x4000;        // MSG_NOSIGNAL

    /// <summary>x86-64 packs struct epoll_event to 12 bytes; the other 64-bit ABIs align its data to 8.</summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int DataOffset = EventSize == 12 ? 4 : 8;

    public static int CreateEpoll() => Check(epoll_create1(CloseOnExec), "epoll_create1");

    public static int CreateEventFd() => Check(eventfd(0, CloseOnExec | EventNonBlocking), "eventfd");

    public static void Add(int epoll, int fd, uint events, ulong data) => Control(epoll, ControlAdd, fd, events, data);

    public static void Modify(int epoll, int fd, uint events, ulong data) => Control(epoll, ControlModify, fd, events, data);

    public static void Remove(int epoll, int fd)
    {
        byte* unused = stackalloc byte[16];
        epoll_ctl(epoll, ControlDelete, fd, unused);
    }

    /// <summary>Waits for events into <paramref name="buffer"/> (<see cref="EventSize"/> bytes each); EINTR reads as none.</summary>
    public static int Wait(int epoll, byte* buffer, int capacity, int timeoutMilliseconds)
    {
        var count = epoll_wait(epoll, buffer, capacity, timeoutMilliseconds);
        if (count < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            return error == Interrupted ? 0 : throw new IOException($"epoll_wait failed: errno {error}");
        }

        return count;
    }

    public static uint EventsAt(byte* buffer, int index) => *(uint*)(buffer + (index * EventSize));

    public static ulong DataAt(byte* buffer, int index) => *(ulong*)(buffer + (index * EventSize) + DataOffset);

    /// <summary>Bytes read, 0 at end of stream, -errno on failure.</summary>
    public static int Receive(int fd, Span<byte> into)
    {
        fixed (byte* pointer = into)
        {
            var count = recv(fd, pointer, into.Length, 0);
            return count >= 0 ? (int)count : -Marshal.GetLastPInvokeError();
        }
    }

    /// <summary>Bytes written, or -errno (-EAGAIN when the socket's send buffer is full).</summary>
    public static int Send(int fd, ReadOnlySpan<byte> from)
    {
        fixed (byte* pointer = from)
        {
            var count = send(fd, pointer, from.Length, NoSignal);
            return count >= 0 ? (int)count : -Marshal.GetLastPInvokeError();
        }
    }

    public static void Signal(int eventFd)
    {
        ulong one = 1;
        write(eventFd, (byte*)&one, sizeof(ulong));
    }

    public static void ClearSignal(int eventFd)
    {
        ulong value;
        read(eventFd, (byte*)&value, sizeof(ulong));
    }

    public static void CloseDescriptor(int fd) => _ = close(fd);

    private static void Control(int epoll, int operation, int fd, uint events, ulong data)
    {
        byte* entry = stackalloc byte[16];
        *(uint*)entry = events;
        *(ulong*)(entry + DataOffset) = data;
        if (epoll_ctl(epoll, operation, fd, entry) < 0)
        {
            throw new IOException($"epoll_ctl failed for descriptor {fd}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static int Check(int result, string call) =>
        result >= 0 ? result : throw new IOException($"{call} failed: errno {Marshal.GetLastPInvokeError()}");

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epoll, int operation, int fd, byte* entry);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epoll, byte* events, int capacity, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, byte* buffer, nint length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nint length);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
