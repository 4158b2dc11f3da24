using Cairn.Server.Connections;
using Cairn.Server.Hosting;
using Cairn.Tests.Support;

namespace Cairn.Tests.Binary;

/// <summary>The shared <see cref="SessionDriver"/>, driving the binary protocol.</summary>
internal static class SessionDriverFor
{
    public static SessionDriver Binary(Action<ServerOptions>? configure = null) =>
        new(configure, createSession: context => new BinaryProtocolSession(context));
}
