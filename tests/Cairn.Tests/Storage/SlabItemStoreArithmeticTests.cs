using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

public sealed class SlabItemStoreArithmeticTests
{
    [Fact]
    public void Incr_adds_and_returns_the_new_value()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "41");

        Assert.Equal(ArithmeticResult.Ok, store.Incr("n", 1, out ulong value));

        Assert.Equal(42ul, value);
        Assert.Equal("42", store.Get("n"));
    }

    [Fact]
    public void Incr_wraps_at_2_pow_64()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "18446744073709551615");

        Assert.Equal(ArithmeticResult.Ok, store.Incr("n", 2, out ulong value));

        Assert.Equal(1ul, value);
        Assert.Equal("1" + new string(' ', 19), store.Get("n"));
    }

    [Fact]
    public void Decr_floors_at_zero()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "5");

        Assert.Equal(ArithmeticResult.Ok, store.Decr("n", 100, out ulong value));

        Assert.Equal(0ul, value);
        Assert.Equal("0", store.Get("n"));
    }

    [Fact]
    public void Decr_to_fewer_digits_pads_with_trailing_spaces()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "10");

        Assert.Equal(ArithmeticResult.Ok, store.Decr("n", 1, out ulong value));

        Assert.Equal(9ul, value);
        Assert.Equal("9 ", store.Get("n"));
        Assert.Equal(ArithmeticResult.Ok, store.Incr("n", 1, out value));
        Assert.Equal(10ul, value);
        Assert.Equal("10", store.Get("n"));
    }

    [Fact]
    public void Incr_to_more_digits_grows_the_item_to_exactly_the_digits()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "99");

        Assert.Equal(ArithmeticResult.Ok, store.Incr("n", 1, out ulong value));

        Assert.Equal(100ul, value);
        Assert.Equal("100", store.Get("n"));
        Assert.Equal(1 + 3 + 48, store.GetStatistics().Bytes);
    }

    [Fact]
    public void Incr_growing_across_a_slab_class_boundary_keeps_the_key_and_item()
    {
        using var store = StoreTestKit.Create();

        // 47-byte key + 1 digit fills the 48-byte class exactly; two digits need the next class.
        string key = new('k', 47);
        store.Set(key, "9", flags: 3, expiresAt: 2_000_000_000);

        Assert.Equal(ArithmeticResult.Ok, store.Incr(key, 1, out ulong value));

        Assert.Equal(10ul, value);
        StoredItem item = store.Read(key)!;
        Assert.Equal("10", item.Text);
        Assert.Equal(3u, item.Flags);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
        Assert.Equal(1, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Delta_gives_a_new_cas_and_keeps_flags_and_expiry()
    {
        using var store = StoreTestKit.Create();
        store.Set("n", "7", flags: 12, expiresAt: 2_000_000_000);
        ulong before = store.Read("n")!.Cas;

        store.Incr("n", 3, out _);

        StoredItem item = store.Read("n")!;
        Assert.True(item.Cas > before);
        Assert.Equal(12u, item.Flags);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
    }

    [Fact]
    public void Delta_on_missing_key_is_not_found()
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(ArithmeticResult.NotFound, store.Incr("n", 1, out _));
        Assert.Equal(ArithmeticResult.NotFound, store.Decr("n", 1, out _));
    }

    [Fact]
    public void Delta_on_expired_key_is_not_found()
    {
        var time = new ManualTimeProvider();
        using var store = StoreTestKit.Create(time);
        store.Set("n", "1", expiresAt: time.UnixSeconds + 1);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(ArithmeticResult.NotFound, store.Incr("n", 1, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("abc")]
    [InlineData("12abc")]
    [InlineData("1.5")]
    [InlineData("-5")]
    [InlineData("-0")]
    [InlineData("--1")]
    [InlineData("+")]
    [InlineData("0x10")]
    [InlineData("18446744073709551616")]
    [InlineData("99999999999999999999999")]
    public void Values_that_are_not_unsigned_decimals_are_non_numeric(string stored)
    {
        using var store = StoreTestKit.Create();
        store.Set("n", stored);
        ulong cas = store.Read("n")!.Cas;

        Assert.Equal(ArithmeticResult.NonNumeric, store.Incr("n", 1, out _));
        Assert.Equal(ArithmeticResult.NonNumeric, store.Decr("n", 1, out _));

        Assert.Equal(stored, store.Get("n"));
        Assert.Equal(cas, store.Read("n")!.Cas);
    }

    [Theory]
    [InlineData("5", 6, "6")]
    [InlineData("  5", 6, "6  ")]
    [InlineData("\t5", 6, "6 ")]
    [InlineData("5 ", 6, "6 ")]
    [InlineData("+5", 6, "6 ")]
    [InlineData("007", 8, "8  ")]
    [InlineData("5\r\n", 6, "6  ")]
    [InlineData("12 abc", 13, "13    ")] // safe_strtoull only needs whitespace right after the digits
    [InlineData("18446744073709551615", 0, "0                   ")]
    public void Values_parse_as_memcached_safe_strtoull_reads_them(string stored, ulong expected, string after)
    {
        using var store = StoreTestKit.Create();
        store.Set("n", stored);

        Assert.Equal(ArithmeticResult.Ok, store.Incr("n", 1, out ulong value));

        Assert.Equal(expected, value);
        Assert.Equal(after, store.Get("n"));
    }

    [Fact]
    public void Counter_parser_accepts_the_largest_value_and_refuses_one_more()
    {
        Assert.True(CounterText.TryParse("18446744073709551615"u8, out ulong max));
        Assert.Equal(ulong.MaxValue, max);
        Assert.False(CounterText.TryParse("18446744073709551616"u8, out _));
        Assert.False(CounterText.TryParse("184467440737095516150"u8, out _));
    }

    [Fact]
    public void Incr_when_full_and_the_item_must_grow_is_out_of_memory_and_keeps_the_item()
    {
        // Fill the class the grown counter needs: 49 bytes lands in the 64-byte class.
        using var store = StoreTestKit.Create(memoryLimit: 0);
        string key = new('k', 47);
        store.Set(key, "9");
        int filler = 0;
        while (store.Set("f" + filler.ToString("D10"), new string('x', 64 - 11)) == StoreResult.Stored)
        {
            filler++;
        }

        Assert.Equal(ArithmeticResult.OutOfMemory, store.Incr(key, 1, out _));

        Assert.Equal("9", store.Get(key));
        Assert.Equal(2, store.GetStatistics().OutOfMemoryErrors);
    }
}
