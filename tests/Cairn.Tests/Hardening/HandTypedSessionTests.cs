using System.Text;
using Cairn.Tests.Support;

namespace Cairn.Tests.Hardening;

/// <summary>What a browser, nc and a person at a terminal send: HTTP is hung up on, a bare \n ends a short-form block.</summary>
public sealed class HandTypedSessionTests
{
    [Theory]
    [InlineData("POST /x HTTP/1.1")]
    [InlineData("PUT /x HTTP/1.0")]
    [InlineData("GET / HTTP/1.1")]
    [InlineData("SET pwn HTTP/1.1")]
    public async Task An_http_request_line_is_hung_up_on_before_its_body_runs(string requestLine)
    {
        await using var server = await TestServer.StartAsync();
        using (var browser = await server.ConnectAsync())
        {
            await browser.SendAsync($"{requestLine}\r\nHost: 127.0.0.1\r\nContent-Length: 22\r\n\r\nset pwn 0 0 3\r\nabc\r\n");
            var (bytes, closed) = await browser.ReadUntilQuietAsync(TimeSpan.FromSeconds(2));
            Assert.True(closed);
            Assert.Empty(bytes);
        }

        using var check = await server.ConnectAsync();
        await check.RoundTripAsync("get pwn\r\n", "END\r\n");
    }

    [Fact]
    public async Task A_lower_case_command_whose_last_key_looks_like_http_is_still_served()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await server.ConnectAsync();
        await client.RoundTripAsync("get index HTTP/1.1\r\n", "END\r\n");
    }

    [Fact]
    public void A_short_form_set_ended_by_bare_newlines_is_answered_at_every_split()
    {
        var script = Encoding.ASCII.GetBytes("SET k 4\nFord\nget k\nset n 2 noreply\nab\r\nget n\n");
        const string Expected = "STORED\r\nVALUE k 0 4\r\nFord\r\nEND\r\nVALUE n 0 2\r\nab\r\nEND\r\n";
        for (int split = 0; split <= script.Length; split++)
        {
            using var driver = new SessionDriver();
            driver.Feed(script.AsSpan(0, split));
            driver.Feed(script.AsSpan(split));
            Assert.Equal(Expected, Encoding.ASCII.GetString(driver.Output()));
        }
    }

    [Fact]
    public void The_full_form_still_needs_crlf_after_its_data_as_memcached_does()
    {
        using var driver = new SessionDriver();
        driver.Feed("set k 0 0 4\nFord\nXY"u8);
        Assert.Equal("CLIENT_ERROR bad data chunk\r\n", Encoding.ASCII.GetString(driver.Output()));
    }
}
