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
 * A WAL segment object (docs/FORMAT.md, "WAL segment object"): a 64-byte header, readable with
 * one ranged GET, then the framed WAL entries compressed as a whole.
 *
 * <pre>
 *  0 u32 magic 'WSSG'          28 u64 first commit time (µs)
 *  4 u16 format version        36 u64 last commit time (µs)
 *  6 u8  codec                 44 u32 entry count
 *  7 u8  reserved (0)          48 u64 body length, uncompressed
 *  8 u32 timeline              56 u32 CRC32C of the uncompressed body
 * 12 u64 first LSN             60 u32 CRC32C of header bytes 0..59
 * 20 u64 last LSN
 * body: for each entry, u32 length then the entry exactly as the WAL holds it (with its own CRC)
 * </pre>
 *
 * This class frames bytes; it does not interpret entries (the restorer decodes and checks them
 * and their LSN continuity). Stateless apart from {@link Builder}, which is not thread-safe.
 */
public final class Segment {
    public static final int MAGIC = 0x57535347;
    public static final int FORMAT_VERSION = 1;
    public static final int HEADER_SIZE = 64;

    /** What a segment's header says. */
    public record Header(Codec codec, int timeline, long firstLsn, long lastLsn, long firstTimeMicros,
                         long lastTimeMicros, int entryCount, long bodyLength, int bodyCrc) {
    }

    private Segment() {
    }

    /** Collects entries, in LSN order, into one segment object. */
    public static final class Builder {
        private final int timeline;
        private final Codec codec;
        private final ByteArrayOutputStream body = new ByteArrayOutputStream(1 << 20);
        private final CRC32C crc = new CRC32C();
        private long firstLsn = -1;
        private long lastLsn;
        private long firstTime;
        private long lastTime;
        private int count;

        public Builder(int timeline, Codec codec) {
            this.timeline = timeline;
            this.codec = codec;
        }

        public Builder add(long lsn, long commitTimeMicros, byte[] entry) {
            if (firstLsn >= 0 && lsn != lastLsn + 1) {
                throw new IllegalArgumentException("segment entries must be contiguous: " + lastLsn + " then " + lsn);
            }
            if (firstLsn < 0) {
                firstLsn = lsn;
                firstTime = commitTimeMicros;
            }
            lastLsn = lsn;
            lastTime = commitTimeMicros;
            byte[] len = ByteBuffer.allocate(4).putInt(entry.length).array();
            body.write(len, 0, 4);
            body.write(entry, 0, entry.length);
            crc.update(len);
            crc.update(entry);
            count++;
            return this;
        }

        public int entries() {
            return count;
        }

        public long bodyBytes() {
            return body.size();
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
            return new Header(codec, timeline, firstLsn, lastLsn, firstTime, lastTime, count, body.size(),
                    (int) crc.getValue());
        }

        /** The whole object: header, then the compressed body. */
        public byte[] build() throws IOException {
            ByteArrayOutputStream out = new ByteArrayOutputStream(body.size() / 2 + HEADER_SIZE);
            out.write(encodeHeader(header()));
            try (OutputStream c = codec.compress(out)) {
                body.writeTo(c);
            }
            return out.toByteArray();
        }
    }

    static byte[] encodeHeader(Header h) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).put((byte) h.codec().id()).put((byte) 0);
        b.putInt(h.timeline()).putLong(h.firstLsn()).putLong(h.lastLsn()).putLong(h.firstTimeMicros())
                .putLong(h.lastTimeMicros()).putInt(h.entryCount()).putLong(h.bodyLength()).putInt(h.bodyCrc());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 60);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /** Reads and checks the 64-byte header of the object {@code key}. */
    public static Header readHeader(InputStream in, String key) throws IOException {
        byte[] h = in.readNBytes(HEADER_SIZE);
        if (h.length != HEADER_SIZE) {
            throw new CorruptObjectException(key, "segment is shorter than its header (" + h.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(h);
        if (b.getInt() != MAGIC) {
            throw new CorruptObjectException(key, "not a walship WAL segment (bad magic)");
        }
        CRC32C crc = new CRC32C();
        crc.update(h, 0, 60);
        if ((int) crc.getValue() != b.getInt(60)) {
            throw new CorruptObjectException(key, "segment header fails its checksum");
        }
        int version = b.getShort() & 0xFFFF;
        if (version != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "segment format version " + version + ", this walship reads "
                    + FORMAT_VERSION);
        }
        Codec codec;
        try {
            codec = Codec.byId(b.get());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, e.getMessage());
        }
        b.get();
        return new Header(codec, b.getInt(), b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getInt(),
                b.getLong(), b.getInt());
    }

    /**
     * Reads a whole segment object and returns its entries' bytes, in order, after checking the
     * header, the body's length and checksum and the frame count.
     */
    public static List<byte[]> readEntries(InputStream in, String key) throws IOException {
        Header h = readHeader(in, key);
        byte[] body;
        try (InputStream d = h.codec().decompress(in)) {
            body = d.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, h.bodyLength() + 1));
        } catch (IOException e) {
            throw new CorruptObjectException(key, "cannot decompress its " + h.codec() + " body: " + e.getMessage(), e);
        }
        if (body.length != h.bodyLength()) {
            throw new CorruptObjectException(key, "body is " + body.length + " bytes, the header says " + h.bodyLength());
        }
        CRC32C crc = new CRC32C();
        crc.update(body);
        if ((int) crc.getValue() != h.bodyCrc()) {
            throw new CorruptObjectException(key, "body fails its checksum");
        }
        List<byte[]> out = new ArrayList<>(h.entryCount());
        ByteBuffer b = ByteBuffer.wrap(body);
        while (b.remaining() >= 4) {
            int len = b.getInt();
            if (len < 0 || len > b.remaining()) {
                throw new CorruptObjectException(key, "frame " + out.size() + " runs past the body");
            }
            byte[] e = new byte[len];
            b.get(e);
            out.add(e);
        }
        if (b.hasRemaining() || out.size() != h.entryCount()) {
            throw new CorruptObjectException(key, out.size() + " frames, the header says " + h.entryCount());
        }
        return out;
    }
}
