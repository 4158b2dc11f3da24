using System.Text;
using Cairn.Client;

namespace Cairn.Tests.Client;

public sealed class ClientWireTests
{
    private static CairnClient Connect(FakeMemcached fake, TimeSpan? timeout = null)
    {
        var options = new CairnClientOptions { ConnectionsPerServer = 1, OperationTimeout = timeout ?? TimeSpan.FromSeconds(10) };
        options.Servers.Clear();
        options.Servers.Add(fake.Address);
        return new CairnClient(options);
    }

    private static async Task<T> Exchange<T>(FakeMemcached fake, Task<T> call, string request, string reply)
    {
        await fake.ExpectAsync(request);
        await fake.ReplyAsync(reply);
        return await call;
    }

    [Fact]
    public async Task Set_sends_ms_with_ttl_and_flags()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        Assert.Equal(CairnStoreResult.Stored, await Exchange(fake, client.SetAsync("key", "hello"), "ms key 5 T0 F0\r\nhello\r\n", "HD\r\n"));
        Assert.Equal(CairnStoreResult.Stored, await Exchange(fake, client.SetAsync("k2", "ab", TimeSpan.FromSeconds(90), 7), "ms k2 2 T90 F7\r\nab\r\n", "HD\r\n"));
    }

    [Fact]
    public async Task Storage_modes_and_cas_are_meta_flags()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        Assert.Equal(CairnStoreResult.NotStored, await Exchange(fake, client.AddAsync("k", "v"), "ms k 1 T0 F0 ME\r\nv\r\n", "NS\r\n"));
        Assert.Equal(CairnStoreResult.NotStored, await Exchange(fake, client.ReplaceAsync("k", "v"), "ms k 1 T0 F0 MR\r\nv\r\n", "NS\r\n"));
        Assert.Equal(CairnStoreResult.Stored, await Exchange(fake, client.AppendAsync("k", "vv"), "ms k 2 MA\r\nvv\r\n", "HD\r\n"));
        Assert.Equal(CairnStoreResult.Stored, await Exchange(fake, client.PrependAsync("k", "vv"), "ms k 2 MP\r\nvv\r\n", "HD\r\n"));
        Assert.Equal(CairnStoreResult.Exists, await Exchange(fake, client.CasAsync("k", "v", 42), "ms k 1 T0 F0 C42\r\nv\r\n", "EX\r\n"));
    }

    [Fact]
    public async Task Get_asks_for_value_flags_and_cas()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        var item = await Exchange(fake, client.GetAsync("key"), "mg key v f c\r\n", "VA 5 f3 c99\r\nhello\r\n");
        Assert.NotNull(item);
        Assert.Equal("hello", item.ValueAsString());
        Assert.Equal(3u, item.Flags);
        Assert.Equal(99ul, item.Cas);
        Assert.Null(await Exchange(fake, client.GetAsync("nope"), "mg nope v f c\r\n", "EN\r\n"));
        var touched = await Exchange(fake, client.GetAndTouchAsync("key", TimeSpan.FromSeconds(30)), "mg key v f c T30\r\n", "VA 1 f0 c1\r\nx\r\n");
        Assert.Equal("x", touched!.ValueAsString());
        Assert.True(await Exchange(fake, client.TouchAsync("key", TimeSpan.FromSeconds(5)), "mg key T5\r\n", "HD\r\n"));
    }

    [Fact]
    public async Task Delete_and_arithmetic_use_md_and_ma()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        Assert.False(await Exchange(fake, client.DeleteAsync("k"), "md k\r\n", "NF\r\n"));
        Assert.Equal(11ul, await Exchange(fake, client.IncrementAsync("n", 10), "ma n v D10\r\n", "VA 2\r\n11\r\n"));
        Assert.Equal(5ul, await Exchange(fake, client.IncrementAsync("n", 1, 5, TimeSpan.FromSeconds(60)), "ma n v D1 N60 J5\r\n", "VA 1\r\n5\r\n"));
        Assert.Null(await Exchange(fake, client.DecrementAsync("n", 2), "ma n v D2 MD\r\n", "NF\r\n"));
    }

    [Fact]
    public async Task Key_with_spaces_goes_base64()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        var expected = $"md {Convert.ToBase64String(Encoding.UTF8.GetBytes("a b"))} b\r\n";
        Assert.True(await Exchange(fake, client.DeleteAsync("a b"), expected, "HD\r\n"));
    }

    [Fact]
    public async Task Concurrent_requests_are_batched_and_answered_in_order()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        var first = client.GetAsync("a");
        await fake.ExpectAsync("mg a v f c\r\n");
        var queued = Enumerable.Range(0, 3).Select(i => client.GetAsync("k" + i)).ToArray();
        await fake.ExpectAsync("mg k0 v f c\r\nmg k1 v f c\r\nmg k2 v f c\r\n");
        await fake.ReplyAsync("EN\r\nVA 1 f0 c1\r\n0\r\nVA 1 f0 c2\r\n1\r\nVA 1 f0 c3\r\n2\r\n");
        Assert.Null(await first);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(i.ToString(), (await queued[i])!.ValueAsString());
        }
    }

    [Fact]
    public async Task Server_error_line_becomes_a_protocol_exception()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake);
        var call = client.SetAsync("k", "v");
        await fake.ExpectAsync("ms k 1 T0 F0\r\nv\r\n");
        await fake.ReplyAsync("SERVER_ERROR out of memory storing object\r\n");
        var error = await Assert.ThrowsAsync<CairnProtocolException>(() => call);
        Assert.Contains("out of memory", error.Message);
    }

    [Fact]
    public async Task Server_that_never_answers_times_out()
    {
        await using var fake = new FakeMemcached();
        await using var client = Connect(fake, TimeSpan.FromMilliseconds(300));
        var call = client.GetAsync("slow");
        await fake.ExpectAsync("mg slow v f c\r\n");
        var error = await Assert.ThrowsAsync<TimeoutException>(() => call);
        Assert.Contains(fake.Address, error.Message);
    }
}
