using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

public sealed class SlabItemStoreExpiryTests
{
    private readonly ManualTimeProvider _time = new();

    private long Now => _time.UnixSeconds;

    [Fact]
    public void Item_with_expiry_already_past_is_gone()
    {
        using var store = StoreTestKit.Create(_time);

        Assert.Equal(StoreResult.Stored, store.Set("k", "v", expiresAt: Now - 1));

        Assert.Null(store.Get("k"));
        Assert.Equal(0, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Item_disappears_when_the_clock_reaches_its_expiry()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v", expiresAt: Now + 10);

        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("v", store.Get("k"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Expiry_0_never_expires()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v", expiresAt: 0);

        _time.Advance(TimeSpan.FromDays(3650));

        Assert.Equal("v", store.Get("k"));
    }

    [Fact]
    public void Touch_extends_the_life_of_an_item()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v", expiresAt: Now + 10);

        Assert.True(store.Touch("k", Now + 100));
        _time.Advance(TimeSpan.FromSeconds(50));

        Assert.Equal("v", store.Get("k"));
        _time.Advance(TimeSpan.FromSeconds(50));
        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Touch_of_missing_or_expired_item_is_false()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v", expiresAt: Now + 1);
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.False(store.Touch("k", Now + 100));
        Assert.False(store.Touch("missing", Now + 100));
        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Get_and_touch_sets_the_expiry_before_showing_the_item()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v", expiresAt: Now + 10);
        ulong cas = store.Read("k")!.Cas;
        var visitor = new CaptureVisitor();

        Assert.True(store.TryGetAndTouch(StoreTestKit.Bytes("k"), Now + 500, ref visitor));

        Assert.Equal("v", visitor.Item!.Text);
        Assert.Equal(Now + 500, visitor.Item.ExpiresAt);
        Assert.Equal(cas, visitor.Item.Cas);
        _time.Advance(TimeSpan.FromSeconds(100));
        Assert.Equal("v", store.Get("k"));
    }

    [Fact]
    public void Get_and_touch_of_missing_item_is_false()
    {
        using var store = StoreTestKit.Create(_time);
        var visitor = new CaptureVisitor();

        Assert.False(store.TryGetAndTouch(StoreTestKit.Bytes("k"), Now + 500, ref visitor));
        Assert.Null(visitor.Item);
    }

    [Fact]
    public void Expired_item_is_absent_to_every_operation()
    {
        using var store = StoreTestKit.Create(_time);
        foreach (string key in new[] { "replace", "append", "prepend", "cas", "incr", "delete" })
        {
            store.Set(key, "1", expiresAt: Now + 1);
        }

        _time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(StoreResult.NotStored, store.Put(StoreMode.Replace, "replace", "x"));
        Assert.Equal(StoreResult.NotStored, store.Put(StoreMode.Append, "append", "x"));
        Assert.Equal(StoreResult.NotStored, store.Put(StoreMode.Prepend, "prepend", "x"));
        Assert.Equal(StoreResult.NotFound, store.Put(StoreMode.Cas, "cas", "x", compareCas: 4));
        Assert.Equal(ArithmeticResult.NotFound, store.Incr("incr", 1, out _));
        Assert.Equal(DeleteResult.NotFound, store.Delete("delete"));
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(0, stats.CurrentItems);
        Assert.Equal(6, stats.Reclaimed);
        Assert.Equal(6, stats.ExpiredUnfetched);
    }

    [Fact]
    public void Fetched_items_do_not_count_as_expired_unfetched()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("read", "v", expiresAt: Now + 1);
        store.Set("unread", "v", expiresAt: Now + 1);
        store.Get("read");
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(2, store.SweepAll());

        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(2, stats.Reclaimed);
        Assert.Equal(1, stats.ExpiredUnfetched);
    }

    [Fact]
    public void Flush_all_now_hides_every_item_and_later_stores_work()
    {
        using var store = StoreTestKit.Create(_time);
        for (int i = 0; i < 1000; i++)
        {
            store.Set("k" + i, "v");
        }

        store.FlushAll(0);

        Assert.Null(store.Get("k0"));
        Assert.Null(store.Get("k999"));
        Assert.Equal(0, store.GetStatistics().CurrentItems);
        Assert.Equal(StoreResult.Stored, store.Set("k0", "again"));
        Assert.Equal("again", store.Get("k0"));
    }

    [Fact]
    public void Flush_all_with_a_past_time_acts_now()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v");

        store.FlushAll(Now - 100);

        Assert.Null(store.Get("k"));
        Assert.Equal(StoreResult.Stored, store.Set("k", "new"));
        Assert.Equal("new", store.Get("k"));
    }

    [Fact]
    public void Delayed_flush_hides_items_stored_before_the_deadline_once_it_arrives()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("early", "v");

        store.FlushAll(Now + 10);

        store.Set("before-deadline", "v");
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("v", store.Get("early"));
        Assert.Equal("v", store.Get("before-deadline"));

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(store.Get("early"));
        Assert.Null(store.Get("before-deadline"));
    }

    [Fact]
    public void Items_stored_at_or_after_a_delayed_flush_deadline_survive_it()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "old");
        store.FlushAll(Now + 10);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(StoreResult.Stored, store.Set("k", "new"));
        Assert.Equal(StoreResult.Stored, store.Set("fresh", "v"));
        _time.Advance(TimeSpan.FromSeconds(100));

        Assert.Equal("new", store.Get("k"));
        Assert.Equal("v", store.Get("fresh"));
        store.SweepAll();
        Assert.Equal(2, store.GetStatistics().CurrentItems);
    }

    [Fact]
    public void Add_after_a_delayed_flush_deadline_sees_the_flushed_item_as_absent()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "old");
        store.FlushAll(Now + 5);
        _time.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Add, "k", "new"));
        Assert.Equal("new", store.Get("k"));
    }

    [Fact]
    public void A_newer_flush_does_not_revive_items_an_earlier_deadline_killed()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v");
        store.FlushAll(Now + 5);
        _time.Advance(TimeSpan.FromSeconds(6));

        store.FlushAll(Now + 100);

        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void A_newer_delayed_flush_replaces_one_not_yet_reached()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("k", "v");
        store.FlushAll(Now + 5);

        store.FlushAll(Now + 50);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal("v", store.Get("k"));
        _time.Advance(TimeSpan.FromSeconds(40));
        Assert.Null(store.Get("k"));
    }

    [Fact]
    public void Sweep_reclaims_expired_items_without_anyone_asking_for_them()
    {
        using var store = StoreTestKit.Create(_time);
        for (int i = 0; i < 3000; i++)
        {
            store.Set("k" + i, "v", expiresAt: i % 3 == 0 ? 0 : Now + 5);
        }

        _time.Advance(TimeSpan.FromSeconds(5));
        int reclaimed = 0;
        for (int tick = 0; tick < 1000 && reclaimed < 2000; tick++)
        {
            reclaimed += store.Sweep(100);
        }

        Assert.Equal(2000, reclaimed);
        StoreStatistics stats = store.GetStatistics();
        Assert.Equal(1000, stats.CurrentItems);
        Assert.Equal(2000, stats.Reclaimed);
        long expectedBytes = 0;
        for (int i = 0; i < 3000; i += 3)
        {
            expectedBytes += ("k" + i).Length + 1 + 48;
        }

        Assert.Equal(expectedBytes, stats.Bytes);
    }

    [Fact]
    public void Sweep_after_a_delayed_flush_reclaims_only_items_stored_before_it()
    {
        using var store = StoreTestKit.Create(_time);
        store.Set("before", "v");
        store.FlushAll(Now + 2);
        _time.Advance(TimeSpan.FromSeconds(2));
        store.Set("after", "v");

        Assert.Equal(1, store.SweepAll());

        Assert.Equal(1, store.GetStatistics().CurrentItems);
        Assert.Equal("v", store.Get("after"));
    }

    [Fact]
    public async Task Background_sweep_reclaims_expired_items()
    {
        using var store = new SlabItemStore(StoreTestKit.Options(_time));
        for (int i = 0; i < 500; i++)
        {
            store.Set("k" + i, "v", expiresAt: Now + 1);
        }

        _time.Advance(TimeSpan.FromSeconds(2));

        // The sweep ticks every second on the real clock; poll rather than assume a schedule.
        for (int i = 0; i < 200 && store.GetStatistics().CurrentItems > 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(0, store.GetStatistics().CurrentItems);
        Assert.Equal(500, store.GetStatistics().Reclaimed);
    }
}
