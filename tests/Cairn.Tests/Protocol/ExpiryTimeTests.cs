using Cairn.Protocol.Text;

namespace Cairn.Tests.Protocol;

public class ExpiryTimeTests
{
    private const long Now = 1_800_000_000;

    [Fact]
    public void Zero_never_expires() => Assert.Equal(0, ExpiryTime.ToAbsolute(0, Now));

    [Fact]
    public void Up_to_thirty_days_is_relative()
    {
        Assert.Equal(Now + 100, ExpiryTime.ToAbsolute(100, Now));
        Assert.Equal(Now + ExpiryTime.MaxRelativeSeconds, ExpiryTime.ToAbsolute(ExpiryTime.MaxRelativeSeconds, Now));
    }

    [Fact]
    public void Beyond_thirty_days_is_absolute_unix_time()
    {
        Assert.Equal(ExpiryTime.MaxRelativeSeconds + 1L, ExpiryTime.ToAbsolute(ExpiryTime.MaxRelativeSeconds + 1, Now));
        Assert.Equal(Now + 5, ExpiryTime.ToAbsolute(Now + 5, Now));
    }

    [Fact]
    public void Negative_is_already_expired()
    {
        var absolute = ExpiryTime.ToAbsolute(-1, Now);
        Assert.NotEqual(0, absolute);
        Assert.True(absolute <= Now);
    }
}
