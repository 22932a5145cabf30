package io.walship.archive;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A WAL segment object (docs/FORMAT.md, "WAL segment object"): an 80-byte header (64 bytes in
 * format version 1), readable with one ranged GET, then the framed WAL entries compressed as a
 * whole.
 *
 * <pre>
 *  0 u32 magic 'WSSG'          28 u64 first commit time (µs)
 *  4 u16 format version        36 u64 last commit time (µs)
 *  6 u8  codec                 44 u32 entry count
 *  7 u8  reserved (0)          48 u64 body length, uncompressed
 *  8 u32 timeline              56 u32 CRC32C of the uncompressed body
 * 12 u64 first LSN             60 u32 CRC32C of header bytes 0..59
 * 20 u64 last LSN
 * version 2 (written since the archive checks histories on resume):
 *                             60 u64 system id of the store that wrote the entries
 *                             68 u64 reserved (0)
 *                             76 u32 CRC32C of header bytes 0..75
 * version 1 (still read): 60 u32 CRC32C of header bytes 0..59, no system id
 * body: for each entry, u32 length then the entry exactly as the WAL holds it (with its own CRC)
 * </pre>
 *
 * This class frames bytes; it does not interpret entries (the restorer decodes and checks them
 * and their LSN continuity). Stateless apart from {@link Builder}, which is not thread-safe.
 */
public final class Segment {
    public static final int MAGIC = 0x57535347;
    public static final int FORMAT_VERSION = 2;
    /** Header size of the current format (version 2); version 1 headers are {@link #V1_HEADER_SIZE}. */
    public static final int HEADER_SIZE = 80;
    public static final int V1_HEADER_SIZE = 64;
    /** {@link Header#systemId} of a version-1 segment, which does not record it. */
    public static final long NO_SYSTEM_ID = 0;

    /**
     * What a segment's header says. {@code systemId} is {@link #NO_SYSTEM_ID} in version-1
     * segments; {@code version} is the format version read.
     */
    public record Header(Codec codec, int timeline, long firstLsn, long lastLsn, long firstTimeMicros,
                         long lastTimeMicros, int entryCount, long bodyLength, int bodyCrc, long systemId, int version) {
        public Header(Codec codec, int timeline, long firstLsn, long lastLsn, long firstTimeMicros,
                      long lastTimeMicros, int entryCount, long bodyLength, int bodyCrc, long systemId) {
            this(codec, timeline, firstLsn, lastLsn, firstTimeMicros, lastTimeMicros, entryCount, bodyLength, bodyCrc,
                    systemId, FORMAT_VERSION);
        }

        /** Bytes the header takes in the object. */
        public int size() {
            return version == 1 ? V1_HEADER_SIZE : HEADER_SIZE;
        }
    }

    private Segment() {
    }

    /**
     * The zstd level segments are written at. The level is not part of the format (a zstd frame
     * decodes the same whatever level made it); 1 rather than the library's default 3, because on
     * WAL entries it compresses as well and takes about 60 % of the time (docs/BENCHMARKS.md,
     * "Archive: shipping and base backups").
     */
    public static final int ZSTD_LEVEL = 1;

    /**
     * Collects entries, in LSN order, into one segment object. The body is framed straight into
     * one array, which an entry can also be read into without an array of its own
     * ({@link #room}, {@link #entryOffset}, {@link #added}).
     */
    public static final class Builder {
        private final int timeline;
        private final long systemId;
        private final Codec codec;
        private final int sizeHint;
        private byte[] body;
        private int size;
        private int lastStart;
        private final CRC32C crc = new CRC32C();
        private long firstLsn = -1;
        private long lastLsn;
        private long firstTime;
        private long lastTime;
        private int count;

        /** A segment of {@code timeline} written by the store {@code systemId} (see {@code ControlFile}). */
        /** Bytes of body arrays builders allocated in this JVM, each grown array in full. */
        private static final java.util.concurrent.atomic.LongAdder BODY_BYTES = new java.util.concurrent.atomic.LongAdder();

        /**
         * Bytes of body arrays all builders in this JVM have allocated so far: a test checks that an
         * idle shipping run allocates none (a thread's allocation counter can't say, as it also counts
         * what opening the WAL costs, which depends on what ran in the JVM before).
         */
        public static long bodyBytesAllocated() {
            return BODY_BYTES.sum();
        }

        public Builder(long systemId, int timeline, Codec codec) {
            this(systemId, timeline, codec, Integer.MAX_VALUE - 16);
        }

        /**
         * As above, for a body expected to end near {@code sizeHint} bytes: the array starts at 1 MiB
         * (or the hint), allocated by the first entry, and doubles up to the hint, then grows only
         * by what an entry needs.
         */
        public Builder(long systemId, int timeline, Codec codec, int sizeHint) {
            this.systemId = systemId;
            this.timeline = timeline;
            this.codec = codec;
            this.sizeHint = Math.max(64, sizeHint);
            this.body = new byte[0]; // allocated by the first entry: an idle shipping run allocates no body
        }

        public Builder add(long lsn, long commitTimeMicros, byte[] entry) {
            byte[] to = room(entry.length);
            System.arraycopy(entry, 0, to, entryOffset(), entry.length);
            return added(lsn, commitTimeMicros, entry.length);
        }

        /**
         * The body array, with room for an entry of {@code len} bytes at {@link #entryOffset} (after
         * its length frame); the entry is part of the segment only once {@link #added} says so.
         */
        public byte[] room(int len) {
            long need = (long) size + 4 + len;
            if (need > body.length) {
                if (need > Integer.MAX_VALUE - 16) {
                    throw new IllegalArgumentException("segment body would exceed 2 GiB");
                }
                long grown = Math.min(Math.max((long) body.length * 2, 1 << 20), sizeHint);
                body = java.util.Arrays.copyOf(body, (int) Math.max(need, grown));
                BODY_BYTES.add(body.length);
            }
            return body;
        }

        /** Where the next entry's bytes go in the array {@link #room} returns. */
        public int entryOffset() {
            return size + 4;
        }

        /**
         * Adds the entry of {@code len} bytes placed at {@link #entryOffset} of the array {@link #room}
         * returned (for those same {@code len} bytes).
         */
        public Builder added(long lsn, long commitTimeMicros, int len) {
            if (firstLsn >= 0 && lsn != lastLsn + 1) {
                throw new IllegalArgumentException("segment entries must be contiguous: " + lastLsn + " then " + lsn);
            }
            if (len < 0 || (long) size + 4 + len > body.length) {
                throw new IllegalArgumentException("entry of " + len + " bytes was given no room");
            }
            if (firstLsn < 0) {
                firstLsn = lsn;
                firstTime = commitTimeMicros;
            }
            lastLsn = lsn;
            lastTime = commitTimeMicros;
            body[size] = (byte) (len >>> 24);
            body[size + 1] = (byte) (len >>> 16);
            body[size + 2] = (byte) (len >>> 8);
            body[size + 3] = (byte) len;
            crc.update(body, size, 4 + len);
            lastStart = size + 4;
            size += 4 + len;
            count++;
            return this;
        }

        /** A copy of the last entry added. */
        public byte[] lastEntry() {
            if (count == 0) {
                throw new IllegalStateException("empty segment");
            }
            return java.util.Arrays.copyOfRange(body, lastStart, size);
        }

        public int entries() {
            return count;
        }

        public int timeline() {
            return timeline;
        }

        public long bodyBytes() {
            return size;
        }

        public long firstLsn() {
            return firstLsn;
        }

        public long lastLsn() {
            return lastLsn;
        }

        public Header header() {
            if (count == 0) {
                throw new IllegalStateException("empty segment");
            }
            return new Header(codec, timeline, firstLsn, lastLsn, firstTime, lastTime, count, size,
                    (int) crc.getValue(), systemId);
        }

        /**
         * The whole object: header, then the compressed body. zstd bodies are compressed in one call
         * at {@link #ZSTD_LEVEL} (one zstd frame, as a stream would write it).
         */
        public byte[] build() throws IOException {
            byte[] header = encodeHeader(header());
            if (codec == Codec.ZSTD) {
                byte[] out = new byte[HEADER_SIZE + (int) Math.min(Integer.MAX_VALUE - 16 - HEADER_SIZE,
                        com.github.luben.zstd.Zstd.compressBound(size))];
                System.arraycopy(header, 0, out, 0, HEADER_SIZE);
                long n;
                try (com.github.luben.zstd.ZstdCompressCtx z = new com.github.luben.zstd.ZstdCompressCtx()) {
                    z.setLevel(ZSTD_LEVEL);
                    n = z.compressByteArray(out, HEADER_SIZE, out.length - HEADER_SIZE, body, 0, size);
                } catch (com.github.luben.zstd.ZstdException e) {
                    throw new IOException("zstd: " + e.getMessage(), e);
                }
                return java.util.Arrays.copyOf(out, HEADER_SIZE + (int) n);
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream(size / 2 + HEADER_SIZE);
            out.write(header);
            try (OutputStream c = codec.compress(out)) {
                c.write(body, 0, size);
            }
            return out.toByteArray();
        }
    }

    static byte[] encodeHeader(Header h) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).put((byte) h.codec().id()).put((byte) 0);
        b.putInt(h.timeline()).putLong(h.firstLsn()).putLong(h.lastLsn()).putLong(h.firstTimeMicros())
                .putLong(h.lastTimeMicros()).putInt(h.entryCount()).putLong(h.bodyLength()).putInt(h.bodyCrc())
                .putLong(h.systemId()).putLong(0);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, HEADER_SIZE - 4);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /**
     * Reads and checks the header of the object {@code key} (version 2, or version 1 without a
     * system id), leaving {@code in} at the start of the body.
     *
     * @throws CorruptObjectException if it is short, not a segment, fails its checksum or has a
     *                                version or codec this walship does not know
     */
    public static Header readHeader(InputStream in, String key) throws IOException {
        byte[] h = in.readNBytes(V1_HEADER_SIZE);
        if (h.length != V1_HEADER_SIZE) {
            throw new CorruptObjectException(key, "segment is shorter than its header (" + h.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(h);
        if (b.getInt() != MAGIC) {
            throw new CorruptObjectException(key, "not a walship WAL segment (bad magic)");
        }
        int version = b.getShort() & 0xFFFF;
        int crcAt;
        if (version == 1) {
            crcAt = V1_HEADER_SIZE - 4;
        } else if (version == 2) {
            byte[] rest = in.readNBytes(HEADER_SIZE - V1_HEADER_SIZE);
            if (rest.length != HEADER_SIZE - V1_HEADER_SIZE) {
                throw new CorruptObjectException(key, "segment is shorter than its header ("
                        + (V1_HEADER_SIZE + rest.length) + " bytes)");
            }
            h = java.util.Arrays.copyOf(h, HEADER_SIZE);
            System.arraycopy(rest, 0, h, V1_HEADER_SIZE, rest.length);
            b = ByteBuffer.wrap(h);
            b.position(6);
            crcAt = HEADER_SIZE - 4;
        } else {
            throw new CorruptObjectException(key, "segment format version " + version + ", this walship reads 1 and "
                    + FORMAT_VERSION);
        }
        CRC32C crc = new CRC32C();
        crc.update(h, 0, crcAt);
        if ((int) crc.getValue() != b.getInt(crcAt)) {
            throw new CorruptObjectException(key, "segment header fails its checksum");
        }
        Codec codec;
        try {
            codec = Codec.byId(b.get());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, e.getMessage());
        }
        b.get();
        int timeline = b.getInt();
        long firstLsn = b.getLong();
        long lastLsn = b.getLong();
        long firstTime = b.getLong();
        long lastTime = b.getLong();
        int count = b.getInt();
        long bodyLength = b.getLong();
        int bodyCrc = b.getInt();
        long systemId = version == 1 ? NO_SYSTEM_ID : b.getLong();
        if (count < 1 || bodyLength < 0 || bodyLength > Integer.MAX_VALUE - 16 || firstLsn < 1 || lastLsn < firstLsn || lastLsn - firstLsn + 1 != count) {
            throw new CorruptObjectException(key, "segment header is inconsistent (LSN " + firstLsn + ".." + lastLsn
                    + ", " + count + " entries, body " + bodyLength + " bytes)");
        }
        return new Header(codec, timeline, firstLsn, lastLsn, firstTime, lastTime, count, bodyLength, bodyCrc, systemId,
                version);
    }

    /**
     * Reads a whole segment object and returns its entries' bytes, in order, after checking the
     * header, the body's length and checksum and the frame count.
     */
    public static List<byte[]> readEntries(InputStream in, String key) throws IOException {
        Header h = readHeader(in, key);
        byte[] body = readBody(h, in, key, null);
        int[] starts = frames(h, body, body.length, key);
        List<byte[]> out = new ArrayList<>(starts.length);
        for (int start : starts) {
            out.add(java.util.Arrays.copyOfRange(body, start, start + frameLength(body, start)));
        }
        return out;
    }

    /**
     * Decompresses the body that follows {@code h} in {@code in} and checks its length and
     * checksum; the decompressed stream must end with it. The body is read into {@code reuse} if
     * that is large enough (its first {@code h.bodyLength()} bytes), else into a new array of
     * exactly that size; returns the array.
     */
    public static byte[] readBody(Header h, InputStream in, String key, byte[] reuse) throws IOException {
        // read into one array of the promised size (readNBytes(n) would buffer it all twice), then
        // make sure nothing follows
        int len = (int) h.bodyLength();
        byte[] body = reuse != null && reuse.length >= len ? reuse : new byte[len];
        int got;
        boolean more;
        try (InputStream d = h.codec().decompress(in)) {
            got = d.readNBytes(body, 0, len);
            more = got == len && d.read() >= 0;
        } catch (IOException e) {
            throw new CorruptObjectException(key, "cannot decompress its " + h.codec() + " body: " + e.getMessage(), e);
        }
        if (got != h.bodyLength() || more) {
            throw new CorruptObjectException(key, "body is " + (more ? "more than " + got : got) + " bytes, the header says "
                    + h.bodyLength());
        }
        CRC32C crc = new CRC32C();
        crc.update(body, 0, len);
        if ((int) crc.getValue() != h.bodyCrc()) {
            throw new CorruptObjectException(key, "body fails its checksum");
        }
        return body;
    }

    /**
     * Where each entry starts in a checked body, {@code body[0, length)} (each is preceded by its
     * u32 length, {@link #frameLength}); their number must be the header's.
     */
    public static int[] frames(Header h, byte[] body, int length, String key) {
        int[] starts = new int[h.entryCount()];
        int n = 0;
        ByteBuffer b = ByteBuffer.wrap(body, 0, length);
        while (b.remaining() >= 4) {
            int len = b.getInt();
            if (len < 0 || len > b.remaining()) {
                throw new CorruptObjectException(key, "frame " + n + " runs past the body");
            }
            if (n < starts.length) {
                starts[n] = b.position();
            }
            n++;
            b.position(b.position() + len);
        }
        if (b.hasRemaining() || n != h.entryCount()) {
            throw new CorruptObjectException(key, n + " frames, the header says " + h.entryCount());
        }
        return starts;
    }

    /** The length of the entry starting at {@code start} of a body ({@link #frames}). */
    public static int frameLength(byte[] body, int start) {
        return (body[start - 4] & 0xFF) << 24 | (body[start - 3] & 0xFF) << 16 | (body[start - 2] & 0xFF) << 8
                | body[start - 1] & 0xFF;
    }
}
