using System.Text;
using Cairn.Storage;
using Cairn.Tests.Support;

namespace Cairn.Tests.Storage;

public sealed class SlabItemStoreConcurrencyTests
{
    private static readonly int ThreadCount = Math.Clamp(Environment.ProcessorCount, 4, 8);

    [Fact]
    public void Cas_values_are_unique_and_grow_across_threads()
    {
        using var store = StoreTestKit.Create();
        const int perThread = 20_000;
        var casByThread = new ulong[ThreadCount][];
        var keyByThread = new int[ThreadCount][];

        RunThreads(ThreadCount, t =>
        {
            var random = new Random(t);
            var cas = casByThread[t] = new ulong[perThread];
            var keys = keyByThread[t] = new int[perThread];
            for (int i = 0; i < perThread; i++)
            {
                keys[i] = random.Next(64);
                Assert.Equal(StoreResult.Stored, store.Put(StoreMode.Set, "key" + keys[i], [(byte)t], out cas[i]));
            }
        });

        var all = new HashSet<ulong>();
        var highestPerKey = new Dictionary<int, ulong>();
        for (int t = 0; t < ThreadCount; t++)
        {
            for (int i = 0; i < perThread; i++)
            {
                Assert.True(all.Add(casByThread[t][i]));
                if (i > 0)
                {
                    Assert.True(casByThread[t][i] > casByThread[t][i - 1]);
                }

                int key = keyByThread[t][i];
                highestPerKey[key] = Math.Max(highestPerKey.GetValueOrDefault(key), casByThread[t][i]);
            }
        }

        Assert.Equal((ulong)(ThreadCount * perThread), all.Max());
        foreach ((int key, ulong highest) in highestPerKey)
        {
            // The last store to a key is the one with the largest cas: cas order is store order per key.
            Assert.Equal(highest, store.Read("key" + key)!.Cas);
        }
    }

    [Fact]
    public void Concurrent_increments_are_never_lost()
    {
        using var store = StoreTestKit.Create();
        const int perThread = 10_000;
        store.Set("counter", "0");

        RunThreads(ThreadCount, thread =>
        {
            for (int i = 0; i < perThread; i++)
            {
                Assert.Equal(ArithmeticResult.Ok, store.Incr("counter", 1, out _));
            }
        });

        Assert.Equal((ThreadCount * perThread).ToString(), store.Get("counter")!.TrimEnd());
    }

    [Fact]
    public void Random_operations_from_many_threads_match_a_model_per_thread()
    {
        var time = new ManualTimeProvider();
        using var store = new SlabItemStore(StoreTestKit.Options(time, memoryLimit: 256L * 1024 * 1024));
        var stress = new Stress(store, time, allowLoss: false);

        stress.Run(ThreadCount, operationsPerThread: 30_000);

        stress.CheckConsistency();
    }

    [Fact]
    public void Random_operations_under_eviction_expiry_and_flushes_stay_consistent()
    {
        var time = new ManualTimeProvider();
        using var store = new SlabItemStore(StoreTestKit.Options(time, memoryLimit: 4L * 1024 * 1024, evict: true));
        var stress = new Stress(store, time, allowLoss: true);

        stress.Run(ThreadCount, operationsPerThread: 30_000);

        // Whether memory fills depends on how the clock thread's flushes interleave, so this test checks
        // consistency only; SlabItemStoreMemoryTests proves eviction itself deterministically.
        stress.CheckConsistency();
    }

    private static void RunThreads(int count, Action<int> body)
    {
        var errors = new List<Exception>();
        using var start = new Barrier(count);
        var threads = new Thread[count];
        for (int t = 0; t < count; t++)
        {
            int id = t;
            threads[t] = new Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    body(id);
                }
                catch (Exception e)
                {
                    lock (errors)
                    {
                        errors.Add(e);
                    }
                }
            });
            threads[t].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        if (errors.Count > 0)
        {
            throw new AggregateException(errors);
        }
    }

    /// <summary>
    /// Each thread owns some keys and checks every answer against its own model (with eviction, an
    /// owned item may vanish, but never come back or change). All threads also hammer shared keys whose
    /// values are runs of "[aaaa]" tokens, so a torn or misplaced write shows up as a malformed value.
    /// </summary>
    private sealed class Stress(SlabItemStore store, ManualTimeProvider time, bool allowLoss)
    {
        private const int SharedKeys = 50;
        private const int Counters = 8;

        /// <summary>With eviction on, enough data to overflow the limit (and the first page every class gets anyway).</summary>
        private readonly int _ownedKeys = allowLoss ? 1500 : 100;

        private Dictionary<string, byte[]>[] _models = [];
        private int _threads;

        public void Run(int threads, int operationsPerThread)
        {
            _threads = threads;
            _models = new Dictionary<string, byte[]>[threads];
            for (int t = 0; t < threads; t++)
            {
                _models[t] = [];
            }

            for (int c = 0; c < Counters; c++)
            {
                store.Set("ctr" + c, "100");
            }

            int running = threads;
            var clock = new Thread(() =>
            {
                var random = new Random(99);
                while (Volatile.Read(ref running) > 0)
                {
                    Thread.Sleep(1);
                    if (!allowLoss)
                    {
                        continue;
                    }

                    time.Advance(TimeSpan.FromSeconds(1));
                    int roll = random.Next(400);
                    if (roll == 0)
                    {
                        store.FlushAll(0);
                    }
                    else if (roll == 1)
                    {
                        store.FlushAll(time.UnixSeconds + random.Next(1, 4));
                    }
                    else if (roll < 10)
                    {
                        store.Sweep(5000);
                    }
                }
            });
            clock.Start();
            try
            {
                RunThreads(threads, t =>
                {
                    try
                    {
                        var random = new Random(1000 + t);
                        for (int i = 0; i < operationsPerThread; i++)
                        {
                            if (random.Next(2) == 0)
                            {
                                OwnedOperation(t, random);
                            }
                            else
                            {
                                SharedOperation(random);
                            }
                        }
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                    }
                });
            }
            finally
            {
                Volatile.Write(ref running, 0);
                clock.Join();
            }
        }

        public void CheckConsistency()
        {
            store.SweepAll();
            StoreStatistics stats = store.GetStatistics();
            long found = 0;
            long bytes = 0;

            for (int t = 0; t < _threads; t++)
            {
                for (int k = 0; k < _ownedKeys; k++)
                {
                    string key = OwnedKey(t, k);
                    StoredItem? item = store.Read(key);
                    if (_models[t].TryGetValue(key, out byte[]? expected))
                    {
                        if (item is not null || !allowLoss)
                        {
                            Assert.Equal(expected, item?.Value);
                        }
                    }
                    else
                    {
                        Assert.Null(item);
                    }

                    Count(key, item);
                }
            }

            for (int s = 0; s < SharedKeys; s++)
            {
                StoredItem? item = store.Read("shared" + s);
                if (item is not null)
                {
                    AssertWellFormed(item.Value);
                }

                Count("shared" + s, item);
            }

            for (int c = 0; c < Counters; c++)
            {
                StoredItem? item = store.Read("ctr" + c);
                if (item is not null)
                {
                    Assert.True(CounterText.TryParse(item.Value, out _), item.Text);
                }

                Count("ctr" + c, item);
            }

            Assert.Equal(stats.CurrentItems, found);
            Assert.Equal(bytes, stats.Bytes);

            IReadOnlyList<SlabClassStatistics> slabs = store.GetSlabStatistics();
            Assert.Equal(found, slabs.Sum(r => r.Items));
            foreach (SlabClassStatistics row in slabs.Where(r => r.ChunkSize > 0))
            {
                // No chunk may be lost or leaked: every used chunk belongs to exactly one item.
                Assert.Equal(row.Items, row.UsedChunks);
            }

            void Count(string key, StoredItem? item)
            {
                if (item is not null)
                {
                    found++;
                    bytes += key.Length + item.Value.Length + 48;
                }
            }
        }

        private static string OwnedKey(int thread, int k) => "own" + thread + ":" + k;

        private static byte[] Token(Random random, bool large = false)
        {
            int length = large ? random.Next(400_000, 700_000) : random.Next(0, random.Next(2) == 0 ? 60 : 3000);
            byte[] token = new byte[length + 2];
            token[0] = (byte)'[';
            token.AsSpan(1, length).Fill((byte)('a' + random.Next(26)));
            token[^1] = (byte)']';
            return token;
        }

        private static void AssertWellFormed(byte[] value)
        {
            int i = 0;
            while (i < value.Length)
            {
                Assert.Equal((byte)'[', value[i]);
                int end = Array.IndexOf(value, (byte)']', i + 1);
                Assert.True(end > i, Encoding.ASCII.GetString(value));
                for (int j = i + 2; j < end; j++)
                {
                    Assert.Equal(value[i + 1], value[j]);
                }

                i = end + 1;
            }
        }

        private long Expiry(Random random) =>
            allowLoss && random.Next(4) == 0 ? time.UnixSeconds + random.Next(-1, 5) : 0;

        private void SharedOperation(Random random)
        {
            string key = "shared" + random.Next(SharedKeys);
            byte[] token = Token(random, large: random.Next(2000) == 0);
            switch (random.Next(12))
            {
                case 0:
                case 1:
                    store.Put(StoreMode.Set, key, token, out _, expiresAt: Expiry(random));
                    break;
                case 2:
                    store.Put(StoreMode.Add, key, token, out _, expiresAt: Expiry(random));
                    break;
                case 3:
                    store.Put(StoreMode.Replace, key, token, out _);
                    break;
                case 4:
                    store.Put(StoreMode.Append, key, token, out _);
                    break;
                case 5:
                    store.Put(StoreMode.Prepend, key, token, out _);
                    break;
                case 6:
                    StoredItem? current = store.Read(key);
                    if (current is not null)
                    {
                        store.Put(StoreMode.Cas, key, token, out _, compareCas: current.Cas);
                    }

                    break;
                case 7:
                    store.Delete(key);
                    break;
                case 8:
                    store.Touch(key, Expiry(random));
                    break;
                case 9:
                    string counter = "ctr" + random.Next(Counters);
                    ArithmeticResult result = store.ApplyDelta(StoreTestKit.Bytes(counter), random.Next(2) == 0, (ulong)random.Next(1000), out _);
                    Assert.True(result is ArithmeticResult.Ok or ArithmeticResult.NotFound or ArithmeticResult.OutOfMemory, result.ToString());
                    if (result == ArithmeticResult.NotFound)
                    {
                        store.Put(StoreMode.Add, counter, "5"u8.ToArray(), out _);
                    }

                    break;
                default:
                    StoredItem? item = store.Read(key);
                    if (item is not null)
                    {
                        AssertWellFormed(item.Value);
                    }

                    break;
            }
        }

        private void OwnedOperation(int thread, Random random)
        {
            Dictionary<string, byte[]> model = _models[thread];
            string key = OwnedKey(thread, random.Next(_ownedKeys));
            bool present = model.TryGetValue(key, out byte[]? current);
            byte[] value = random.Next(10) == 0 ? Encoding.ASCII.GetBytes(random.Next(1000).ToString()) : Token(random);
            int op = random.Next(11);
            StoreResult result;
            switch (op)
            {
                case 0:
                case 1:
                    result = store.Put(StoreMode.Set, key, value, out _);
                    if (result == StoreResult.Stored)
                    {
                        model[key] = value;
                    }
                    else
                    {
                        Lost(result == StoreResult.OutOfMemory);
                    }

                    break;
                case 2:
                    result = store.Put(StoreMode.Add, key, value, out _);
                    if (present)
                    {
                        if (result != StoreResult.NotStored)
                        {
                            Lost(result is StoreResult.Stored or StoreResult.OutOfMemory);
                        }

                        if (result == StoreResult.Stored)
                        {
                            model[key] = value;
                        }
                    }
                    else if (result != StoreResult.OutOfMemory || !allowLoss)
                    {
                        Assert.Equal(StoreResult.Stored, result);
                        model[key] = value;
                    }

                    break;
                case 3:
                case 4:
                case 5:
                    StoreMode mode = op == 3 ? StoreMode.Replace : op == 4 ? StoreMode.Append : StoreMode.Prepend;
                    result = store.Put(mode, key, value, out _);
                    if (!present)
                    {
                        Assert.Equal(StoreResult.NotStored, result);
                    }
                    else if (result == StoreResult.Stored)
                    {
                        model[key] = mode == StoreMode.Replace ? value : mode == StoreMode.Append ? [.. current!, .. value] : [.. value, .. current!];
                    }
                    else if (result == StoreResult.NotStored)
                    {
                        Lost(true);
                    }
                    else
                    {
                        // Repeated appends can outgrow the item size limit; that leaves the item alone.
                        Assert.True((allowLoss && result == StoreResult.OutOfMemory) || (mode != StoreMode.Replace && result == StoreResult.TooLarge), result.ToString());
                    }

                    break;
                case 6:
                    StoredItem? item = store.Read(key);
                    if (CheckRead(item) && item is not null)
                    {
                        result = store.Put(StoreMode.Cas, key, value, out _, compareCas: item.Cas - 1);
                        Assert.True(result == StoreResult.Exists || (allowLoss && result == StoreResult.NotFound), result.ToString());
                        result = store.Put(StoreMode.Cas, key, value, out _, compareCas: item.Cas);
                        if (result == StoreResult.Stored)
                        {
                            model[key] = value;
                        }
                        else if (result == StoreResult.NotFound)
                        {
                            Lost(true);
                        }
                        else
                        {
                            Assert.True(allowLoss && result == StoreResult.OutOfMemory, result.ToString());
                        }
                    }

                    break;
                case 7:
                    DeleteResult deleted = store.Delete(key);
                    if (present && deleted == DeleteResult.NotFound)
                    {
                        Lost(true);
                    }

                    Assert.True(present || deleted == DeleteResult.NotFound);
                    model.Remove(key);
                    break;
                case 8:
                    bool increment = random.Next(2) == 0;
                    ulong delta = (ulong)random.Next(100);
                    ArithmeticResult arithmetic = store.ApplyDelta(StoreTestKit.Bytes(key), increment, delta, out ulong number);
                    if (!present || arithmetic == ArithmeticResult.NotFound)
                    {
                        if (present)
                        {
                            Lost(true);
                        }

                        Assert.Equal(ArithmeticResult.NotFound, arithmetic);
                    }
                    else if (!CounterText.TryParse(current, out ulong old))
                    {
                        Assert.Equal(ArithmeticResult.NonNumeric, arithmetic);
                    }
                    else if (arithmetic == ArithmeticResult.Ok)
                    {
                        ulong expected = increment ? unchecked(old + delta) : (delta >= old ? 0 : old - delta);
                        Assert.Equal(expected, number);
                        byte[] digits = Encoding.ASCII.GetBytes(expected.ToString());
                        model[key] = digits.Length <= current!.Length ? [.. digits, .. Enumerable.Repeat((byte)' ', current.Length - digits.Length)] : digits;
                    }
                    else
                    {
                        Assert.True(allowLoss && arithmetic == ArithmeticResult.OutOfMemory, arithmetic.ToString());
                    }

                    break;
                case 9:
                    bool touched = store.Touch(key, 0);
                    if (present && !touched)
                    {
                        Lost(true);
                    }

                    Assert.True(present || !touched);
                    break;
                default:
                    CheckRead(store.Read(key));
                    break;
            }

            bool CheckRead(StoredItem? item)
            {
                if (!present)
                {
                    Assert.Null(item);
                    return false;
                }

                if (item is null)
                {
                    Lost(true);
                    return false;
                }

                Assert.Equal(current, item.Value);
                return true;
            }

            void Lost(bool possible)
            {
                Assert.True(allowLoss && possible, $"{key} vanished without eviction, expiry or flush");
                model.Remove(key);
            }
        }
    }
}
