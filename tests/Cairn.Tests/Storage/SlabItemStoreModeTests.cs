using System.Text;
using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

public sealed class SlabItemStoreModeTests
{
    [Fact]
    public void Set_then_get_returns_value_flags_expiry_and_cas()
    {
        using var store = StoreTestKit.Create();

        var result = store.Store(StoreMode.Set, StoreTestKit.Bytes("k"), StoreTestKit.Sequence("hello"), 42, 1_900_000_000, 0, out ulong cas);

        Assert.Equal(StoreResult.Stored, result);
        StoredItem item = Assert.IsType<StoredItem>(store.Read("k"));
        Assert.Equal("k", item.Key);
        Assert.Equal("hello", item.Text);
        Assert.Equal(42u, item.Flags);
        Assert.Equal(1_900_000_000, item.ExpiresAt);
        Assert.Equal(cas, item.Cas);
    }

    [Fact]
    public void First_stored_item_gets_cas_1_and_every_store_a_larger_one()
    {
        using var store = StoreTestKit.Create();

        store.Put(StoreMode.Set, "a", [1], out ulong first);
        store.Put(StoreMode.Set, "b", [2], out ulong second);
        store.Put(StoreMode.Set, "a", [3], out ulong third);

        Assert.Equal(1ul, first);
        Assert.Equal(2ul, second);
        Assert.Equal(3ul, third);
    }

    [Fact]
    public void Get_of_missing_key_is_false()
    {
        using var store = StoreTestKit.Create();

        Assert.Null(store.Read("nope"));
    }

    [Theory]
    [InlineData(5, 10)]
    [InlineData(100, 3)]
    [InlineData(3, 5000)]
    [InlineData(0, 7)]
    public void Set_overwrites_whatever_size_the_old_value_had(int oldLength, int newLength)
    {
        using var store = StoreTestKit.Create();
        store.Set("k", new string('a', oldLength), flags: 1);

        Assert.Equal(StoreResult.Stored, store.Set("k", new string('b', newLength), flags: 2));

        StoredItem item = store.Read("k")!;
        Assert.Equal(new string('b', newLength), item.Text);
        Assert.Equal(2u, item.Flags);
        Assert.Equal(1, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Empty_value_round_trips()
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(StoreResult.Stored, store.Set("k", ""));

        Assert.Equal("", store.Get("k"));
    }

    [Fact]
    public void Add_on_missing_key_stores()
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Add, "k", "v"));

        Assert.Equal("v", store.Get("k"));
    }

    [Fact]
    public void Add_on_existing_live_item_is_not_stored()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "old");
        ulong cas = store.Read("k")!.Cas;

        Assert.Equal(StoreResult.NotStored, store.Put(StoreMode.Add, "k", "new"));

        Assert.Equal("old", store.Get("k"));
        Assert.Equal(cas, store.Read("k")!.Cas);
    }

    [Fact]
    public void Add_over_expired_item_stores()
    {
        var time = new ManualTimeProvider();
        using var store = StoreTestKit.Create(time);
        store.Set("k", "old", expiresAt: time.UnixSeconds + 10);
        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Add, "k", "new"));

        Assert.Equal("new", store.Get("k"));
    }

    [Fact]
    public void Replace_on_missing_key_is_not_stored()
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(StoreResult.NotStored, store.Put(StoreMode.Replace, "k", "v"));

        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Replace_on_existing_item_takes_new_value_flags_and_expiry()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "old", flags: 1, expiresAt: 0);

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Replace, "k", "new", flags: 9, expiresAt: 2_000_000_000));

        StoredItem item = store.Read("k")!;
        Assert.Equal("new", item.Text);
        Assert.Equal(9u, item.Flags);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
    }

    [Theory]
    [InlineData(StoreMode.Append)]
    [InlineData(StoreMode.Prepend)]
    public void Append_and_prepend_on_missing_key_are_not_stored(StoreMode mode)
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(StoreResult.NotStored, store.Put(mode, "k", "v"));

        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Append_keeps_flags_and_expiry_and_gets_a_new_cas()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "hello", flags: 7, expiresAt: 2_000_000_000);
        ulong before = store.Read("k")!.Cas;

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Append, "k", " world", flags: 99, expiresAt: 5));

        StoredItem item = store.Read("k")!;
        Assert.Equal("hello world", item.Text);
        Assert.Equal(7u, item.Flags);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
        Assert.True(item.Cas > before);
    }

    [Fact]
    public void Prepend_keeps_flags_and_expiry_and_gets_a_new_cas()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "world", flags: 7, expiresAt: 2_000_000_000);
        ulong before = store.Read("k")!.Cas;

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Prepend, "k", "hello ", flags: 99, expiresAt: 5));

        StoredItem item = store.Read("k")!;
        Assert.Equal("hello world", item.Text);
        Assert.Equal(7u, item.Flags);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
        Assert.True(item.Cas > before);
    }

    [Fact]
    public void Repeated_appends_and_prepends_across_slab_classes_keep_every_byte()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "|");
        var expected = new StringBuilder("|");

        for (int i = 0; i < 300; i++)
        {
            string piece = i.ToString("D3") + new string((char)('a' + (i % 26)), i % 40);
            if (i % 3 == 0)
            {
                Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Prepend, "k", piece));
                expected.Insert(0, piece);
            }
            else
            {
                Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Append, "k", piece));
                expected.Append(piece);
            }
        }

        Assert.Equal(expected.ToString(), store.Get("k"));
        Assert.Equal(1, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Cas_on_missing_key_is_not_found()
    {
        using var store = StoreTestKit.Create();

        Assert.Equal(StoreResult.NotFound, store.Put(StoreMode.Cas, "k", "v", compareCas: 1));

        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Cas_with_a_stale_value_is_exists_and_leaves_the_item()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "v1");
        ulong stale = store.Read("k")!.Cas;
        store.Set("k", "v2");

        Assert.Equal(StoreResult.Exists, store.Put(StoreMode.Cas, "k", "v3", compareCas: stale));

        Assert.Equal("v2", store.Get("k"));
    }

    [Fact]
    public void Cas_with_the_current_value_stores_and_returns_a_new_cas()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "v1", flags: 1);
        ulong current = store.Read("k")!.Cas;

        StoreResult result = store.Store(StoreMode.Cas, StoreTestKit.Bytes("k"), StoreTestKit.Sequence("v2"), 5, 0, current, out ulong cas);

        Assert.Equal(StoreResult.Stored, result);
        StoredItem item = store.Read("k")!;
        Assert.Equal("v2", item.Text);
        Assert.Equal(5u, item.Flags);
        Assert.Equal(cas, item.Cas);
        Assert.True(cas > current);
        Assert.Equal(StoreResult.Exists, store.Put(StoreMode.Cas, "k", "v3", compareCas: current));
    }

    [Fact]
    public void Failed_stores_return_cas_0()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "v");

        store.Put(StoreMode.Add, "k", [1], out ulong cas);

        Assert.Equal(0ul, cas);
    }

    [Fact]
    public void Touch_changes_expiry_but_not_cas()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "v");
        ulong cas = store.Read("k")!.Cas;

        Assert.True(store.Touch("k", 2_000_000_000));

        StoredItem item = store.Read("k")!;
        Assert.Equal(cas, item.Cas);
        Assert.Equal(2_000_000_000, item.ExpiresAt);
    }

    [Fact]
    public void Delete_removes_a_live_item_and_reports_missing_ones()
    {
        using var store = StoreTestKit.Create();
        store.Set("k", "v");

        Assert.Equal(DeleteResult.Deleted, store.Delete("k"));
        Assert.Equal(DeleteResult.NotFound, store.Delete("k"));
        Assert.Null(store.Get("k"));
        Assert.Equal(0, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Multi_segment_values_are_stored_whole()
    {
        using var store = StoreTestKit.Create();
        byte[] data = Encoding.ASCII.GetBytes("the quick brown fox jumps over the lazy dog");
        var value = StoreTestKit.Segmented(data, 3, 1, 10, 7);
        Assert.False(value.IsSingleSegment);

        Assert.Equal(StoreResult.Stored, store.Store(StoreMode.Set, StoreTestKit.Bytes("k"), value, 0, 0, 0, out _));
        Assert.Equal(StoreResult.Stored, store.Store(StoreMode.Append, StoreTestKit.Bytes("k"), StoreTestKit.Segmented("!?"u8.ToArray(), 1), 0, 0, 0, out _));

        Assert.Equal("the quick brown fox jumps over the lazy dog!?", store.Get("k"));
    }

    [Fact]
    public void Binary_values_and_250_byte_keys_round_trip()
    {
        using var store = StoreTestKit.Create();
        string key = new('k', 250);
        byte[] value = new byte[256];
        for (int i = 0; i < value.Length; i++)
        {
            value[i] = (byte)i;
        }

        store.Put(StoreMode.Set, key, value, out _);

        Assert.Equal(value, store.Read(key)!.Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(251)]
    public void Keys_outside_1_to_250_bytes_are_a_caller_bug(int length)
    {
        using var store = StoreTestKit.Create();

        Assert.Throws<ArgumentOutOfRangeException>(() => store.Set(new string('k', length), "v"));
    }

    [Fact]
    public void Many_keys_survive_index_growth()
    {
        using var store = StoreTestKit.Create();
        const int count = 20_000;

        for (int i = 0; i < count; i++)
        {
            Assert.Equal(StoreResult.Stored, store.Set("key:" + i, "value:" + i, flags: (uint)i));
        }

        for (int i = 0; i < count; i++)
        {
            StoredItem item = store.Read("key:" + i)!;
            Assert.Equal("value:" + i, item.Text);
            Assert.Equal((uint)i, item.Flags);
        }

        for (int i = 0; i < count; i += 2)
        {
            Assert.Equal(DeleteResult.Deleted, store.Delete("key:" + i));
        }

        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i % 2 == 0 ? null : "value:" + i, store.Get("key:" + i));
        }

        Assert.Equal(count / 2, store.GetStatistics().CurrentItems);
        Assert.True(store.GetStatistics().HashPowerLevel >= 14);
    }
}
