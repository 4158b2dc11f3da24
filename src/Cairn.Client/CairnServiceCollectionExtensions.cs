using Cairn.Client;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Cairn as the application's <see cref="IDistributedCache"/>.</summary>
public static class CairnServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="CairnClient"/> built from <see cref="CairnClientOptions"/> and
    /// <see cref="CairnDistributedCache"/> as <see cref="IDistributedCache"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets servers, pool size and timeouts.</param>
    /// <returns>The same service collection.</returns>
    public static IServiceCollection AddCairnCache(this IServiceCollection services, Action<CairnClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions();
        services.Configure(configure);
        services.TryAddSingleton(provider => new CairnClient(
            provider.GetRequiredService<IOptions<CairnClientOptions>>().Value,
            provider.GetService<TimeProvider>() ?? TimeProvider.System));
        services.TryAddSingleton<IDistributedCache>(provider => new CairnDistributedCache(
            provider.GetRequiredService<CairnClient>(),
            provider.GetService<TimeProvider>()));
        return services;
    }
}
