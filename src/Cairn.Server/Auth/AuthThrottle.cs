using Cairn.Server.Hosting;

namespace Cairn.Server.Auth;

/// <summary>
/// --auth-failure-delay: after a failed authentication (SASL or ascii) the connection reads nothing more until the
/// delay has passed, so a client guessing passwords gets one try per delay per connection. The failure reply itself
/// leaves at once. Both protocols ask here, so they cannot disagree.
/// </summary>
public static class AuthThrottle
{
    /// <summary>The wait to impose after a failure, or null when none is configured.</summary>
    public static Task? AfterFailure(ServerContext context) =>
        context.Options.AuthFailureDelay > TimeSpan.Zero ? Task.Delay(context.Options.AuthFailureDelay, context.Time) : null;
}
