using System.Buffers;
using System.Buffers.Text;
using System.IO.Pipelines;
using Cairn.Protocol.Text;
using Cairn.Server.Hosting;
using Cairn.Storage;

namespace Cairn.Server.Connections;

/// <summary>
/// "lru_crawler metadump|mgdump &lt;classids|all|hash&gt;": one line per live item in memcached 1.6's formats, so
/// existing memcached tools can enumerate a node. It walks the index one shard at a time and flushes after each, so
/// a listing of millions of keys holds no lock for long and never buffers the whole answer. Cairn has no LRU crawler:
/// "hash" and "all" both walk the index.
/// </summary>
public static class KeyDumpCommand
{
    /// <summary>memcached's slab class ids run 1..63 (MAX_NUMBER_OF_SLAB_CLASSES - 1).</summary>
    private const int LargestClassId = 63;

    public static PendingWork? Start(ServerContext context, ref TextCommand command, IBufferWriter<byte> output)
    {
        var metadump = command.Tokens[1].SequenceEqual("metadump"u8);
        if (!TryParseClasses(command.Tokens[2], out var classes))
        {
            TextResponseWriter.Write(output, "BADCLASS invalid class id\r\n"u8);
            return null;
        }

        var store = context.Store;
        return new PendingWork(null, async (_, stream) =>
        {
            for (int shard = 0; shard < store.ShardCount; shard++)
            {
                var writer = new DumpLineWriter(stream, metadump, classes);
                store.InspectShard(shard, ref writer);
                if (stream.UnflushedBytes > 0)
                {
                    var flushed = await stream.FlushAsync();
                    if (flushed.IsCompleted)
                    {
                        return;
                    }
                }
            }

            // memcached ends a metadump with END and an mgdump with EN, as an mg batch ends.
            TextResponseWriter.Write(stream, metadump ? TextReplies.End : "EN\r\n"u8);
        });
    }

    /// <summary>
    /// "stats cachedump &lt;class&gt; &lt;limit&gt;": "ITEM &lt;key&gt; [&lt;bytes&gt; b; &lt;expiry&gt; s]" for the class's items, up to
    /// <paramref name="limit"/> (0: all) and memcached's 2 MB cap, keys a line cannot carry left out, as memcached does.
    /// memcdump lists a server's keys this way.
    /// </summary>
    public static void WriteCacheDump(IItemStore store, int classId, uint limit, IBufferWriter<byte> output)
    {
        var dump = new CacheDumpWriter(output, classId, limit);
        for (int shard = 0; shard < store.ShardCount && !dump.Full; shard++)
        {
            store.InspectShard(shard, ref dump);
        }

        TextResponseWriter.Write(output, TextReplies.End);
    }

    /// <summary>"all" or "hash": every class; else a comma-separated list of ids, each 1..63, as a bit per id.</summary>
    private static bool TryParseClasses(ReadOnlySpan<byte> text, out ulong classes)
    {
        classes = ulong.MaxValue;
        if (text.SequenceEqual("all"u8) || text.SequenceEqual("hash"u8))
        {
            return true;
        }

        classes = 0;
        foreach (var range in text.Split((byte)','))
        {
            var part = text[range];
            if (!Utf8Parser.TryParse(part, out int id, out int consumed) || consumed != part.Length || id is < 1 or > LargestClassId)
            {
                return false;
            }

            classes |= 1UL << id;
        }

        return true;
    }

    private readonly ref struct DumpLineWriter(PipeWriter output, bool metadump, ulong classes) : IItemInspectionVisitor
    {
        public void Visit(ReadOnlySpan<byte> key, uint flags, in ItemInspection item)
        {
            if ((classes & (1UL << item.SlabClassId)) == 0)
            {
                return;
            }

            if (metadump)
            {
                WriteMetadumpLine(output, key, flags, item);
            }
            else
            {
                WriteMgdumpLine(output, key);
            }
        }
    }

    private struct CacheDumpWriter(IBufferWriter<byte> output, int classId, uint limit) : IItemInspectionVisitor
    {
        private const int MaxBytes = 2 * 1024 * 1024;
        private uint _shown;
        private int _bytes;

        public readonly bool Full => (limit != 0 && _shown >= limit) || _bytes >= MaxBytes - 512;

        public void Visit(ReadOnlySpan<byte> key, uint flags, in ItemInspection item)
        {
            if (item.SlabClassId != classId || Full || key.ContainsAnyInRange((byte)0, (byte)' ') || key.ContainsAnyInRange((byte)0x7f, (byte)0xff))
            {
                return;
            }

            var span = output.GetSpan(key.Length + 64);
            int at = Put(span, 0, "ITEM "u8);
            at = Put(span, at, key);
            at = Number(span, Put(span, at, " ["u8), item.ValueLength);
            at = Number(span, Put(span, at, " b; "u8), item.ExpiresAt);
            at = Put(span, at, " s]\r\n"u8);
            output.Advance(at);
            _bytes += at;
            _shown++;
        }
    }

    /// <summary>key=&lt;uri-encoded&gt; exp= la= cas= fetch= cls= size= flags=, ended by a bare \n as memcached's are.</summary>
    private static void WriteMetadumpLine(PipeWriter output, ReadOnlySpan<byte> key, uint flags, in ItemInspection item)
    {
        var span = output.GetSpan(key.Length * 3 + 160);
        int at = Put(span, 0, "key="u8);
        foreach (var b in key)
        {
            if (char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_' or (byte)'.' or (byte)'~')
            {
                span[at++] = b;
            }
            else
            {
                span[at++] = (byte)'%';
                span[at++] = (byte)"0123456789ABCDEF"[b >> 4];
                span[at++] = (byte)"0123456789ABCDEF"[b & 0xF];
            }
        }

        at = Put(span, at, " exp="u8);
        at = item.ExpiresAt == 0 ? Put(span, at, "-1"u8) : Number(span, at, item.ExpiresAt);
        at = Number(span, Put(span, at, " la="u8), item.LastAccessAt);
        at = Number(span, Put(span, at, " cas="u8), (long)item.Cas);
        at = Put(span, at, item.Fetched ? " fetch=yes cls="u8 : " fetch=no cls="u8);
        at = Number(span, at, item.SlabClassId);

        // memcached's ITEM_ntotal: its 48-byte header, 8 of CAS, the key and its NUL, the value and its \r\n, and 4
        // more when the client flags are not zero.
        at = Number(span, Put(span, at, " size="u8), 48 + 8 + item.KeyLength + 1 + item.ValueLength + 2 + (flags != 0 ? 4 : 0));
        at = Number(span, Put(span, at, " flags="u8), flags);
        span[at++] = (byte)'\n';
        output.Advance(at);
    }

    /// <summary>"mg &lt;key&gt;\r\n", or "mg &lt;base64&gt; b\r\n" for a key a text line could not carry.</summary>
    private static void WriteMgdumpLine(PipeWriter output, ReadOnlySpan<byte> key)
    {
        var binary = key.ContainsAnyInRange((byte)0, (byte)' ') || key.ContainsAnyInRange((byte)0x7f, (byte)0xff);
        var span = output.GetSpan(Base64.GetMaxEncodedToUtf8Length(key.Length) + 8);
        int at = Put(span, 0, "mg "u8);
        if (binary)
        {
            Base64.EncodeToUtf8(key, span[at..], out _, out int written);
            at = Put(span, at + written, " b"u8);
        }
        else
        {
            at = Put(span, at, key);
        }

        at = Put(span, at, TextReplies.Crlf);
        output.Advance(at);
    }

    private static int Put(Span<byte> span, int at, ReadOnlySpan<byte> text)
    {
        text.CopyTo(span[at..]);
        return at + text.Length;
    }

    private static int Number(Span<byte> span, int at, long value)
    {
        Utf8Formatter.TryFormat(value, span[at..], out int written);
        return at + written;
    }
}
