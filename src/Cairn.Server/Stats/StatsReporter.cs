using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;

namespace Cairn.Server.Stats;

/// <summary>
/// Answers "stats" and its groups with memcached's names. Not a hot path: it formats through strings
/// for clarity, and only the counters it reads are shared with the connections.
/// </summary>
public sealed class StatsReporter(ServerContext context)
{
    public void Write(ref TextTokens tokens, IBufferWriter<byte> output, CounterSet ownPending)
    {
        // Make this connection's own recent commands visible to itself, as memcached's per-thread stats are.
        ownPending.DrainInto(context.Statistics.Totals);

        if (tokens.Count == 2)
        {
            WriteLines(output, General());
            return;
        }

        var group = Encoding.ASCII.GetString(tokens[1]);
        switch (group)
        {
            case "reset":
                context.Statistics.Reset();
                context.Store.ResetStatistics();
                TextResponseWriter.Write(output, TextReplies.Reset);
                return;
            case "settings":
                WriteLines(output, Settings());
                return;
            case "items":
                WriteLines(output, Items());
                return;
            case "slabs":
                WriteLines(output, Slabs());
                return;
            case "conns":
                WriteLines(output, Conns());
                return;
            case "sizes":
                WriteLines(output, []);
                return;
            case "replication":
                WriteLines(output, Replication());
                return;
            case "detail":
                var argument = tokens.Count >= 4 ? Encoding.ASCII.GetString(tokens[2]) : string.Empty;
                switch (argument)
                {
                    case "on" or "off":
                        context.Prefixes.Enabled = argument == "on";
                        TextResponseWriter.Write(output, TextReplies.Ok);
                        break;
                    case "dump":
                        TextResponseWriter.Write(output, Encoding.ASCII.GetBytes(context.Prefixes.Dump()));
                        break;
                    default:
                        TextResponseWriter.Write(output, "CLIENT_ERROR usage: stats detail on|off|dump\r\n"u8);
                        break;
                }

                return;
            case "cachedump":
                if (tokens.Count < 5)
                {
                    TextResponseWriter.Write(output, TextReplies.BadCommandLine);
                }
                else if (!AsciiNumber.TryParseUInt32(tokens[2], out var slabId) || !AsciiNumber.TryParseUInt32(tokens[3], out var limit))
                {
                    TextResponseWriter.Write(output, TextReplies.BadCommandLineFormat);
                }
                else if (slabId >= 64)
                {
                    TextResponseWriter.Write(output, "CLIENT_ERROR Illegal slab id\r\n"u8);
                }
                else
                {
                    Connections.KeyDumpCommand.WriteCacheDump(context.Store, (int)slabId, limit, output);
                }

                return;
            default:
                TextResponseWriter.Write(output, TextReplies.Error);
                return;
        }
    }

    private static void WriteLines(IBufferWriter<byte> output, IEnumerable<(string Name, string Value)> lines)
    {
        foreach (var (name, value) in lines)
        {
            TextResponseWriter.WriteStat(output, Encoding.ASCII.GetBytes(name), Encoding.ASCII.GetBytes(value));
        }

        TextResponseWriter.Write(output, TextReplies.End);
    }

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    private IEnumerable<(string, string)> General()
    {
        var statistics = context.Statistics;
        var totals = statistics.Totals;
        var store = context.Store.GetStatistics();
        var now = context.Time.GetUtcNow();
        using var process = Process.GetCurrentProcess();
        var user = process.UserProcessorTime.TotalSeconds;
        var system = process.PrivilegedProcessorTime.TotalSeconds;

        yield return ("pid", Num(Environment.ProcessId));
        yield return ("uptime", Num((long)(now - statistics.StartedAt).TotalSeconds));
        yield return ("time", Num(now.ToUnixTimeSeconds()));
        yield return ("version", ServerContext.Version);
        yield return ("pointer_size", Num(IntPtr.Size * 8));
        yield return ("rusage_user", user.ToString("F6", CultureInfo.InvariantCulture));
        yield return ("rusage_system", system.ToString("F6", CultureInfo.InvariantCulture));
        yield return ("max_connections", Num(context.Options.MaxConnections));
        yield return ("curr_connections", Num(statistics.CurrentConnections));
        yield return ("total_connections", Num(statistics.TotalConnections));
        yield return ("rejected_connections", Num(statistics.RejectedConnections));
        if (context.Options.IdleTimeoutSeconds > 0)
        {
            yield return ("idle_kicks", Num(statistics.IdleKicks));
        }

        yield return ("connection_structures", Num(statistics.CurrentConnections));
        yield return ("cmd_get", Num(totals[Counter.CmdGet]));
        yield return ("cmd_set", Num(totals[Counter.CmdSet]));
        yield return ("cmd_flush", Num(totals[Counter.CmdFlush]));
        yield return ("cmd_touch", Num(totals[Counter.CmdTouch]));
        yield return ("get_hits", Num(totals[Counter.GetHits]));
        yield return ("get_misses", Num(totals[Counter.GetMisses]));
        yield return ("get_expired", Num(store.GetExpired));
        yield return ("get_flushed", Num(store.GetFlushed));
        yield return ("delete_misses", Num(totals[Counter.DeleteMisses]));
        yield return ("delete_hits", Num(totals[Counter.DeleteHits]));
        yield return ("incr_misses", Num(totals[Counter.IncrMisses]));
        yield return ("incr_hits", Num(totals[Counter.IncrHits]));
        yield return ("decr_misses", Num(totals[Counter.DecrMisses]));
        yield return ("decr_hits", Num(totals[Counter.DecrHits]));
        yield return ("cas_misses", Num(totals[Counter.CasMisses]));
        yield return ("cas_hits", Num(totals[Counter.CasHits]));
        yield return ("cas_badval", Num(totals[Counter.CasBadval]));
        yield return ("touch_hits", Num(totals[Counter.TouchHits]));
        yield return ("touch_misses", Num(totals[Counter.TouchMisses]));
        yield return ("store_too_large", Num(totals[Counter.StoreTooLarge]));
        // The store counts every refusal for memory once, whichever protocol asked.
        yield return ("store_no_memory", Num(store.OutOfMemoryErrors));
        yield return ("auth_cmds", Num(totals[Counter.AuthCmds]));
        yield return ("auth_errors", Num(totals[Counter.AuthErrors]));
        yield return ("bytes_read", Num(totals[Counter.BytesRead]));
        yield return ("bytes_written", Num(totals[Counter.BytesWritten]));
        yield return ("limit_maxbytes", Num(store.MemoryLimit));
        yield return ("accepting_conns", "1");
        yield return ("threads", Num(context.Options.Threads));
        yield return ("hash_power_level", Num(store.HashPowerLevel));
        yield return ("curr_items", Num(store.CurrentItems));
        yield return ("total_items", Num(store.TotalItems));
        yield return ("expired_unfetched", Num(store.ExpiredUnfetched));
        yield return ("evicted_unfetched", Num(store.EvictedUnfetched));
        yield return ("evictions", Num(store.Evictions));
        yield return ("reclaimed", Num(store.Reclaimed));
        yield return ("total_malloced", Num(store.TotalMallocedPages));
        yield return ("bytes", Num(store.Bytes));
        foreach (var line in Persistence(store))
        {
            yield return line;
        }
    }

    private IEnumerable<(string, string)> Persistence(Cairn.Storage.StoreStatistics store)
    {
        var durability = context.Durability;
        yield return ("persist", durability is null ? "no" : "yes");
        if (durability is null)
        {
            yield break;
        }

        var log = durability.Log.GetStatistics();
        var recovery = durability.Recovery;
        yield return ("fsync", Cairn.Storage.Log.FsyncPolicyNames.ToFlag(context.Options.Fsync));
        yield return ("log_accepting_writes", durability.IsAcceptingWrites ? "1" : "0");
        yield return ("log_bytes", Num(log.LogBytes));
        yield return ("log_live_bytes", Num(log.LiveBytesEstimate));
        yield return ("log_segments", Num(log.Segments));
        yield return ("log_records_written", Num(log.RecordsWritten));
        yield return ("log_fsyncs", Num(log.Fsyncs));
        yield return ("log_group_commits", Num(log.GroupCommits));
        yield return ("log_group_commit_avg_records", log.AverageRecordsPerCommit.ToString("F2", CultureInfo.InvariantCulture));
        yield return ("log_group_commit_max_records", Num(log.MaxRecordsPerCommit));
        yield return ("log_write_errors", Num(log.WriteErrors));
        yield return ("log_last_error", log.LastError is null ? "none" : log.LastError.ReplaceLineEndings(" ").Replace(' ', '_'));
        yield return ("log_compactions", Num(log.Compactions));
        yield return ("log_last_compaction_seconds", log.LastCompactionDuration.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture));
        yield return ("recovery_seconds", recovery.Duration.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture));
        yield return ("recovery_records", Num(recovery.Records));
        yield return ("recovery_bytes", Num(recovery.Bytes));
        yield return ("recovery_torn_bytes_removed", Num(recovery.TornBytesRemoved));
        yield return ("log_disk_limit", Num(context.Options.DiskLimitBytes));
        foreach (var line in ValuesOnDisk(store))
        {
            yield return line;
        }
    }

    /// <summary>Where the values are: in memory, or only in the log (values beyond -m), and what reading the latter cost.</summary>
    private IEnumerable<(string, string)> ValuesOnDisk(Cairn.Storage.StoreStatistics store)
    {
        var tier = context.Store.GetTierStatistics();
        yield return ("items_in_memory", Num(store.CurrentItems - tier.ItemsOnDiskOnly));
        yield return ("items_on_disk_only", Num(tier.ItemsOnDiskOnly));
        yield return ("value_bytes_on_disk_only", Num(tier.ValueBytesOnDiskOnly));

        // "bytes" less the values only on disk: what the items in memory count as memcached counts them.
        yield return ("bytes_in_memory", Num(store.Bytes - tier.ValueBytesOnDiskOnly));
        yield return ("values_moved_to_disk", Num(tier.MovedToDisk));
        yield return ("values_brought_into_memory", Num(tier.BroughtIntoMemory));
        yield return ("cold_reads", Num(tier.ColdReads));
        yield return ("cold_read_errors", Num(tier.ColdReadErrors));
        yield return ("cold_read_mean_us", Num((long)tier.ColdReadMean.TotalMicroseconds));
        yield return ("cold_read_max_us", Num((long)tier.ColdReadMax.TotalMicroseconds));
    }

    /// <summary>Role, ids and positions; a replica its link and lag, a primary each replica streaming from it.</summary>
    private IEnumerable<(string, string)> Replication()
    {
        if (context.Replication is not { } replication)
        {
            yield return ("role", "none");
            yield break;
        }

        var state = replication.State;
        var coordinator = replication.Coordinator;

        // "candidate": under etcd, not following and not (or no longer surely) elected; it takes no writes. A load
        // balancer looks for "primary", so a primary cut off from etcd drops out of its pool when it stops acknowledging.
        yield return ("role", state.IsReplica ? "replica" : coordinator is { RefusalReason: not null } ? "candidate" : "primary");
        yield return ("replication_id", state.PrimaryId);
        yield return ("log_last_sequence", Num((long)(context.Durability?.Log.LastWrittenSequence ?? 0)));
        yield return ("full_resyncs", Num(state.FullResyncs));
        yield return ("partial_resyncs", Num(state.PartialResyncs));
        if (state.Link is { } link)
        {
            yield return ("primary", $"{link.Host}:{link.Port}");
            yield return ("primary_link", link.Connected ? "up" : "down");
            yield return ("primary_replication_id", link.ReplicationId ?? "");
            yield return ("applied_sequence", Num((long)link.AppliedSequence));
            yield return ("primary_sequence", Num((long)link.PrimarySequence));
            yield return ("lag_records", Num((long)link.LagRecords));
        }

        if (coordinator is not null)
        {
            yield return ("etcd_leader", coordinator.KnownLeader is { } leader ? $"{leader.NodeId}@{leader.Advertise}" : "-");
            yield return ("etcd_sync_set", coordinator.KnownSyncSet?.Format() ?? "-");
            yield return ("etcd_lease_held", coordinator.Leading && coordinator.RefusalReason is null ? "yes" : "no");
            yield return ("etcd_lease_margin_ms", Num((long)coordinator.LeaseMargin.TotalMilliseconds));
        }

        var (confirmed, unconfirmed) = replication.Confirmations;
        yield return ("sync_replicas", Num(replication.SyncReplicas));
        yield return ("sync_confirmed_batches", Num(confirmed));
        yield return ("sync_unconfirmed_batches", Num(unconfirmed));
        yield return ("connected_replicas", Num(state.Replicas.Count));
        var last = context.Durability?.Log.LastWrittenSequence ?? 0;
        foreach (var replica in state.Replicas.OrderBy(r => r.Id))
        {
            var acknowledged = replica.AcknowledgedSequence;
            yield return ($"replica{replica.Id}", string.Create(CultureInfo.InvariantCulture,
                $"addr={replica.Remote},node={replica.NodeId ?? "-"},sent_sequence={replica.SentSequence},ack_sequence={(replica.HasAcknowledged ? acknowledged.ToString(CultureInfo.InvariantCulture) : "-")}," +
                $"lag_records={(last > acknowledged ? last - acknowledged : 0)},counts={(replica.Counts ? "yes" : "no")}"));
        }
    }

    private IEnumerable<(string, string)> Settings()
    {
        var options = context.Options;
        yield return ("maxbytes", Num(context.Store.MemoryLimit));
        yield return ("maxconns", Num(options.MaxConnections));
        yield return ("tcpport", Num(options.TcpEnabled ? options.Port : 0));
        yield return ("udpport", "0");
        yield return ("inter", string.Join(',', options.ListenAddressesOrDefault));
        yield return ("verbosity", Num(context.Verbosity));
        yield return ("evictions", options.EvictWhenFull ? "on" : "off");
        yield return ("memory_full", options.EvictWhenFull ? "evict" : options.ValuesBeyondMemory ? "values_to_disk" : "refuse");
        yield return ("disk_limit", Num(options.DiskLimitBytes));
        yield return ("growth_factor", options.GrowthFactor.ToString("F2", CultureInfo.InvariantCulture));
        yield return ("domain_socket", options.UnixSocketPath ?? "NULL");
        yield return ("umask", Convert.ToString(options.UnixSocketMask, 8));
        yield return ("num_threads", Num(options.Threads));
        yield return ("cas_enabled", "yes");
        yield return ("binding_protocol", options.Protocol switch
        {
            ProtocolMode.Ascii => "ascii",
            ProtocolMode.Binary => "binary",
            _ => "auto-negotiate",
        });
        yield return ("auth_enabled_sasl", context.SaslRequired ? "yes" : "no");

        // memcached prints the -Y file's path here, or "no".
        yield return ("auth_enabled_ascii", context.AsciiAuthRequired ? options.AuthFile! : "no");
        yield return ("item_size_max", Num(options.MaxItemSize));
        yield return ("flush_enabled", options.FlushEnabled ? "yes" : "no");
        yield return ("shutdown_command", options.ShutdownCommandEnabled ? "yes" : "no");
        yield return ("dump_enabled", "yes");
        yield return ("idle_timeout", Num(options.IdleTimeoutSeconds));
        yield return ("detail_enabled", context.Prefixes.Enabled ? "yes" : "no");
    }

    private IEnumerable<(string, string)> Items()
    {
        foreach (var slab in context.Store.GetSlabStatistics())
        {
            if (slab.Items == 0)
            {
                continue;
            }

            var prefix = $"items:{slab.ClassId}:";
            yield return (prefix + "number", Num(slab.Items));
            yield return (prefix + "age", Num(slab.OldestItemAgeSeconds));
            yield return (prefix + "evicted", Num(slab.Evictions));
            yield return (prefix + "outofmemory", "0");
        }
    }

    private IEnumerable<(string, string)> Slabs()
    {
        var classes = 0;
        long malloced = 0;
        foreach (var slab in context.Store.GetSlabStatistics())
        {
            classes++;
            var prefix = $"{slab.ClassId}:";
            yield return (prefix + "chunk_size", Num(slab.ChunkSize));
            yield return (prefix + "chunks_per_page", Num(slab.TotalPages == 0 ? 0 : slab.TotalChunks / slab.TotalPages));
            yield return (prefix + "total_pages", Num(slab.TotalPages));
            yield return (prefix + "total_chunks", Num(slab.TotalChunks));
            yield return (prefix + "used_chunks", Num(slab.UsedChunks));
            yield return (prefix + "free_chunks", Num(slab.FreeChunks));
            malloced += slab.TotalPages;
        }

        yield return ("active_slabs", Num(classes));
        yield return ("total_malloced", Num(context.Store.GetStatistics().TotalMallocedPages));
    }

    /// <summary>memcached's layout: the listening sockets first, then each connection, addresses as tcp:, tcp6: or unix:.</summary>
    private IEnumerable<(string, string)> Conns()
    {
        var now = context.NowUnixSeconds;
        var uptime = (long)(context.Time.GetUtcNow() - context.Statistics.StartedAt).TotalSeconds;
        int listenerId = 0;
        foreach (var listener in context.Listeners)
        {
            var prefix = $"{++listenerId}:";
            yield return (prefix + "addr", Address(listener, context.Options.UnixSocketPath));
            yield return (prefix + "state", "conn_listening");
            yield return (prefix + "secs_since_last_cmd", Num(uptime));
        }

        foreach (var connection in context.Connections.Snapshot().OrderBy(c => c.Id))
        {
            var prefix = $"{connection.Id}:";
            yield return (prefix + "addr", Address(connection.Remote, context.Options.UnixSocketPath));
            yield return (prefix + "listen_addr", Address(connection.Local, context.Options.UnixSocketPath));
            yield return (prefix + "state", connection.State);
            yield return (prefix + "secs_since_last_cmd", Num(connection.LastCommandUnixSeconds == 0 ? 0 : now - connection.LastCommandUnixSeconds));
        }
    }

    private static string Address(System.Net.EndPoint? endPoint, string? unixSocketPath) => endPoint switch
    {
        System.Net.IPEndPoint { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ip => $"tcp6:[{ip.Address}]:{ip.Port}",
        System.Net.IPEndPoint ip => $"tcp:{ip.Address}:{ip.Port}",
        _ => "unix:" + (unixSocketPath ?? ""),
    };
}
