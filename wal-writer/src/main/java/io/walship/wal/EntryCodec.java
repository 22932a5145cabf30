package io.walship.wal;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * Encodes and decodes WAL entries (docs/FORMAT.md, "WAL entry"). Big-endian.
 *
 * <pre>
 *  0 u32 magic 'WSWE'
 *  4 u16 format version (1; 2 if the entry records a checkpoint horizon; 3 if it holds a
 *                         compressed full-page image)
 *  6 u16 flags (0)
 *  8 u64 LSN
 * 16 u32 timeline
 * 20 u64 commit time, microseconds since the epoch
 * 28 u32 change count
 * 32 changes, each starting with u8 kind:
 *      1 delta:     u32 page number, u16 offset, u16 length, bytes
 *      2 full page: u32 page number, u16 hole offset, u16 hole length, the page without the hole
 *                   (the hole is the page's longest run of zero bytes, as in PostgreSQL's
 *                   full-page images: a half-full node costs half a page)
 *      3 horizon:   u64 LSN (version 2 or 3 only; at most one, and only as the first change)
 *      4 compressed full page (version 3 only): u32 page number, u16 hole offset, u16 hole
 *                   length, u8 codec (1 LZ4 block, 2 Zstandard frame), u16 stored length, u32
 *                   image CRC, the page without the hole compressed with the codec (it must
 *                   decompress to exactly page size - hole length bytes; the image CRC is the
 *                   CRC32C of the page number, hole offset and hole length as stored, followed
 *                   by those bytes: the entry's CRC covers the stored bytes, this one the page
 *                   they rebuild, where the hole goes and which page it is)
 *  … u32 CRC32C of every preceding byte of the entry (the stored, compressed bytes)
 * </pre>
 *
 * <p>An entry without a horizon or compressed image is written as version 1, byte for byte what
 * older builds wrote and read. An entry with a horizon is version 2, one with a compressed
 * image version 3 (whether or not it has a horizon; a version 3 entry without one is refused as
 * damage, as this encoder never writes one): older builds refuse them as a
 * format-version mismatch: to them an unknown kind in an entry they think they read would look
 * like damage, and a damaged last entry like a torn tail to discard. Images are compressed only
 * when asked ({@link WalCompression}) and only when that makes them smaller. Compressed bytes
 * are not reproducible (another LZ4 implementation or library version gives other, equally
 * valid bytes), so an entry received from elsewhere is never encoded again: {@link #decode}
 * keeps its bytes and {@link #encode(WalEntry)} gives them back. Stateless and thread-safe.
 */
public final class EntryCodec {
    public static final int MAGIC = 0x57535745;
    /** The base entry format, written for every entry without a horizon and read by every build. */
    public static final int FORMAT_VERSION = 1;
    /** The format of an entry that records a checkpoint horizon (and no compressed image). */
    public static final int HORIZON_FORMAT_VERSION = 2;
    /** The format of an entry that holds a compressed full-page image; the newest this build reads. */
    public static final int COMPRESSED_FORMAT_VERSION = 3;
    public static final int HEADER_SIZE = 32;
    static final byte KIND_DELTA = 1;
    static final byte KIND_FULL = 2;
    static final byte KIND_HORIZON = 3;
    static final byte KIND_COMPRESSED_FULL = 4;
    private static final int HORIZON_SIZE = 9;
    /** What a compressed image costs beyond a plain one's header: codec byte, stored length, CRC. */
    private static final int COMPRESSED_EXTRA = 7;

    private EntryCodec() {
    }

    /** The size of an entry without compressed images (the size with {@link WalCompression#NONE}). */
    public static int encodedSize(List<PageChange> changes) {
        return encodedSize(Lsn.NONE, changes);
    }

    public static int encodedSize(long horizon, List<PageChange> changes) {
        int size = HEADER_SIZE + 4 + (horizon != Lsn.NONE ? HORIZON_SIZE : 0);
        for (PageChange c : changes) {
            size += c.fullPage() ? 9 + PageFormat.PAGE_SIZE - hole(c.bytes())[1] : 9 + c.bytes().length;
        }
        return size;
    }

    /** Offset and length of the longest run of zero bytes in a page. */
    static int[] hole(byte[] page) {
        int bestStart = 0;
        int bestLen = 0;
        int i = 0;
        while (i < page.length) {
            if (page[i] != 0) {
                i++;
                continue;
            }
            int start = i;
            while (i < page.length && page[i] == 0) {
                i++;
            }
            if (i - start > bestLen) {
                bestLen = i - start;
                bestStart = start;
            }
        }
        return new int[] {bestStart, bestLen};
    }

    public static byte[] encode(long lsn, int timeline, long commitTimeMicros, List<PageChange> changes) {
        return encode(lsn, timeline, commitTimeMicros, Lsn.NONE, changes);
    }

    /**
     * The entry exactly as the WAL holds it: the bytes it was decoded from ({@link WalEntry#encoded},
     * the same array, not a copy: read only), or, for an entry built in memory, its changes
     * encoded with {@link WalEntry#compression}. A replica appends received entries with this, so
     * its WAL is the leader's byte for byte whatever its own codecs would make of the pages.
     */
    public static byte[] encode(WalEntry e) {
        return e.encoded() != null ? e.encoded() : encode(e, e.compression());
    }

    /**
     * Encodes an entry that records checkpoint horizon {@code horizon} ({@link Lsn#NONE}: none;
     * otherwise {@code 0 < horizon < lsn}), full-page images stored plain.
     */
    public static byte[] encode(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes) {
        return encode(lsn, timeline, commitTimeMicros, horizon, changes, WalCompression.NONE);
    }

    /** Encodes an entry exactly as the WAL holds it, full-page images compressed with {@code compression}. */
    public static byte[] encode(WalEntry e, WalCompression compression) {
        return encode(e.lsn(), e.timeline(), e.commitTimeMicros(), e.horizon(), e.changes(), compression);
    }

    /**
     * Encodes an entry, each full-page image compressed with {@code compression} if that makes
     * it smaller (otherwise stored plain). Without a compressed image the bytes are exactly those
     * of the uncompressed encoding.
     */
    public static byte[] encode(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes,
                                WalCompression compression) {
        if (horizon < 0 || horizon != Lsn.NONE && horizon >= lsn) {
            throw new IllegalArgumentException("checkpoint horizon " + Lsn.format(horizon) + " of the entry at LSN "
                    + Lsn.format(lsn) + " must lie before it");
        }
        java.util.Objects.requireNonNull(compression, "compression");
        boolean withHorizon = horizon != Lsn.NONE;
        int size = HEADER_SIZE + 4 + (withHorizon ? HORIZON_SIZE : 0);
        int n = changes.size();
        // per change: hole offset, hole length, and (compressed only) where its bytes lie in the scratch
        int[] holeOff = new int[n];
        int[] holeLen = new int[n];
        int[] packedAt = new int[n];
        int[] packedLen = new int[n];
        int[] imageCrc = new int[n];
        ImageCodecs.Scratch scratch = compression == WalCompression.NONE ? null : ImageCodecs.take();
        try {
            boolean anyCompressed = false;
            int packedEnd = 0;
            for (int i = 0; i < n; i++) {
                PageChange c = changes.get(i);
                if (!c.fullPage()) {
                    size += 9 + c.bytes().length;
                    continue;
                }
                int[] h = hole(c.bytes());
                holeOff[i] = h[0];
                holeLen[i] = h[1];
                int plain = PageFormat.PAGE_SIZE - h[1];
                size += 9 + plain;
                if (scratch != null && plain > 0) {
                    System.arraycopy(c.bytes(), 0, scratch.page, 0, h[0]);
                    System.arraycopy(c.bytes(), h[0] + h[1], scratch.page, h[0], plain - h[0]);
                    byte[] packed = scratch.packed(packedEnd + ImageCodecs.maxCompressedLength(compression, plain));
                    int len = ImageCodecs.compress(compression, scratch, plain, packed, packedEnd);
                    if (len + COMPRESSED_EXTRA < plain) {
                        imageCrc[i] = ImageCodecs.crc(scratch, c.pageNo(), h[0], h[1], plain);
                        packedAt[i] = packedEnd;
                        packedLen[i] = len;
                        packedEnd += len;
                        size -= plain - len - COMPRESSED_EXTRA;
                        anyCompressed = true;
                    }
                }
            }
            int version = anyCompressed ? COMPRESSED_FORMAT_VERSION : withHorizon ? HORIZON_FORMAT_VERSION : FORMAT_VERSION;
            byte[] out = new byte[size];
            ByteBuffer b = ByteBuffer.wrap(out);
            b.putInt(MAGIC).putShort((short) version).putShort((short) 0);
            b.putLong(lsn).putInt(timeline).putLong(commitTimeMicros).putInt(n + (withHorizon ? 1 : 0));
            if (withHorizon) {
                b.put(KIND_HORIZON).putLong(horizon);
            }
            for (int i = 0; i < n; i++) {
                PageChange c = changes.get(i);
                if (!c.fullPage()) {
                    b.put(KIND_DELTA).putInt(c.pageNo()).putShort((short) c.offset()).putShort((short) c.bytes().length)
                            .put(c.bytes());
                } else if (packedLen[i] > 0) {
                    b.put(KIND_COMPRESSED_FULL).putInt(c.pageNo()).putShort((short) holeOff[i]).putShort((short) holeLen[i]);
                    b.put((byte) compression.codec).putShort((short) packedLen[i]).putInt(imageCrc[i]);
                    b.put(scratch.packed, packedAt[i], packedLen[i]);
                } else {
                    b.put(KIND_FULL).putInt(c.pageNo()).putShort((short) holeOff[i]).putShort((short) holeLen[i]);
                    b.put(c.bytes(), 0, holeOff[i]);
                    b.put(c.bytes(), holeOff[i] + holeLen[i], PageFormat.PAGE_SIZE - holeOff[i] - holeLen[i]);
                }
            }
            CRC32C crc = new CRC32C();
            crc.update(out, 0, b.position());
            b.putInt((int) crc.getValue());
            return out;
        } finally {
            if (scratch != null) {
                ImageCodecs.give(scratch);
            }
        }
    }

    public static WalEntry decode(byte[] data) {
        return decode(data, 0, data.length);
    }

    /**
     * Verifies an entry exactly as {@link #decode} does (magic, checksum, version) but returns it
     * without its page changes: for readers that pass entries on (shippers) and need only the
     * header. Structure inside the changes is covered by the checksum and checked when applied.
     */
    public static WalEntry verifyHeader(byte[] data) {
        return verifyHeader(data, 0, data.length);
    }

    /** As {@link #verifyHeader(byte[])}, for the entry held in {@code data[off, off + len)}. */
    public static WalEntry verifyHeader(byte[] data, int off, int len) {
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        int magic = PageFormat.getInt(data, off);
        int version = PageFormat.getShort(data, off + 4) & 0xFFFF;
        long lsn = PageFormat.getLong(data, off + 8);
        CRC32C crc = new CRC32C();
        crc.update(data, off, len - 4);
        if (magic != MAGIC || (int) crc.getValue() != PageFormat.getInt(data, off + len - 4)) {
            throw new IntegrityException("WAL entry at LSN " + Lsn.format(lsn) + " (" + len + " bytes) fails its checksum");
        }
        checkVersion(lsn, version);
        return new WalEntry(lsn, PageFormat.getInt(data, off + 16), PageFormat.getLong(data, off + 20), java.util.List.of(),
                len);
    }

    /**
     * Receives an entry's page changes straight from its encoded bytes, nothing copied: a
     * full-page image is {@code src[off..)} holding the page without its hole (the hole is
     * {@code holeLen} zero bytes at page offset {@code holeOff}; a compressed image arrives
     * decompressed, in a buffer reused after the call), a delta is {@code len} bytes at
     * {@code src[off..)} for page offset {@code pageOffset}. The bytes are valid during the call.
     */
    public interface ChangeVisitor {
        void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen);

        void delta(int pageNo, int pageOffset, byte[] src, int off, int len);

        /**
         * Called for a compressed image just before it is decompressed and handed to
         * {@link #fullPage}: its stored bytes start at {@code storedAt} of the entry's array,
         * after the codec byte, stored length and image CRC ({@link ChangeIndex} records it).
         */
        default void compressedImage(int storedAt) {
        }
    }

    /** Checks structure only. */
    public static final ChangeVisitor NO_CHANGES = new ChangeVisitor() {
        @Override
        public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
        }

        @Override
        public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
        }
    };

    /**
     * Decodes and verifies one entry. The entry keeps its bytes ({@link WalEntry#encoded}):
     * {@code data} itself if the entry is all of it (so the caller must not change it afterwards),
     * otherwise a copy of {@code data[off, off + len)}.
     *
     * @throws IntegrityException if the checksum, magic or structure is wrong (the message names
     *                            the LSN when the header is still readable)
     * @throws FormatVersionException if the entry was written by another format version
     */
    public static WalEntry decode(byte[] data, int off, int len) {
        List<PageChange> changes = new ArrayList<>();
        WalEntry e = walk(data, off, len, true, new ChangeVisitor() {
            @Override
            public void fullPage(int pageNo, byte[] src, int o, int holeOff, int holeLen) {
                byte[] img = new byte[PageFormat.PAGE_SIZE];
                System.arraycopy(src, o, img, 0, holeOff);
                System.arraycopy(src, o + holeOff, img, holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
                changes.add(PageChange.fullPage(pageNo, img));
            }

            @Override
            public void delta(int pageNo, int pageOffset, byte[] src, int o, int n) {
                changes.add(new PageChange(pageNo, pageOffset, java.util.Arrays.copyOfRange(src, o, o + n), false));
            }
        });
        byte[] bytes = off == 0 && len == data.length ? data : java.util.Arrays.copyOfRange(data, off, off + len);
        return new WalEntry(e.lsn(), e.timeline(), e.commitTimeMicros(), e.horizon(), changes, len, e.compression(), bytes);
    }

    /** The LSN in an encoded entry's header, unverified. */
    public static long lsnOf(byte[] data, int off, int len) {
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        return ByteBuffer.wrap(data, off, len).getLong(off + 8);
    }

    /** The commit time in the header of the encoded entry at {@code data[off]}, unverified (its caller checked it). */
    public static long commitTimeOf(byte[] data, int off) {
        return (long) PageFormat.getInt(data, off + 20) << 32 | PageFormat.getInt(data, off + 24) & 0xFFFFFFFFL;
    }

    /**
     * Verifies one entry as {@link #decode} does (its checksum only with {@code checkCrc}: a
     * caller that verified it before skips the second pass) and hands each page change to
     * {@code visitor} in order, from the entry's own bytes. Returns the entry without its changes.
     * Every structural check (page number, bounds, hole, kinds, trailing bytes) runs before the
     * change it concerns is handed out, and a change the visitor has seen is never taken back: a
     * caller that applies changes as they come must treat a failure as fatal for its target.
     */
    public static WalEntry walk(byte[] data, int off, int len, boolean checkCrc, ChangeVisitor visitor) {
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        ByteBuffer b = ByteBuffer.wrap(data, off, len);
        int magic = b.getInt();
        int version = b.getShort() & 0xFFFF;
        b.getShort();
        long lsn = b.getLong();
        if (checkCrc) {
            CRC32C crc = new CRC32C();
            crc.update(data, off, len - 4);
            int stored = ByteBuffer.wrap(data, off + len - 4, 4).getInt();
            if (magic != MAGIC || (int) crc.getValue() != stored) {
                throw new IntegrityException(where(lsn) + " (" + len + " bytes) fails its checksum");
            }
        } else if (magic != MAGIC) {
            throw new IntegrityException(where(lsn) + " (" + len + " bytes) has a bad magic");
        }
        checkVersion(lsn, version);
        int timeline = b.getInt();
        long time = b.getLong();
        int count = b.getInt();
        int end = off + len - 4;
        ImageCodecs.Scratch scratch = null; // taken at the first compressed image
        try {
            long horizon = Lsn.NONE;
            int codecSeen = 0; // of the first compressed image
            for (int i = 0; i < count; i++) {
                byte kind = b.get();
                if (kind == KIND_HORIZON && version >= HORIZON_FORMAT_VERSION) {
                    if (i != 0) {
                        throw new IntegrityException(where(lsn) + " has a checkpoint horizon as change " + (i + 1)
                                + "; it may only be the first");
                    }
                    horizon = b.getLong();
                    if (horizon <= 0 || horizon >= lsn) {
                        throw new IntegrityException(where(lsn) + " records checkpoint horizon " + Lsn.format(horizon)
                                + ", which does not lie before it");
                    }
                    continue;
                }
                int page = b.getInt();
                if (page < 0) {
                    throw new IntegrityException(where(lsn) + " changes page " + Integer.toUnsignedString(page)
                            + ", past the largest page number");
                }
                if (kind == KIND_FULL) {
                    int holeOff = b.getShort() & 0xFFFF;
                    int holeLen = b.getShort() & 0xFFFF;
                    if (holeOff + holeLen > PageFormat.PAGE_SIZE) {
                        throw new IntegrityException(where(lsn) + " has a full-page image with a hole past the page end");
                    }
                    int n = PageFormat.PAGE_SIZE - holeLen;
                    int at = b.position();
                    if (at + n > end) {
                        throw new IntegrityException(where(lsn) + " is malformed: a full-page image runs past its end");
                    }
                    b.position(at + n);
                    visitor.fullPage(page, data, at, holeOff, holeLen);
                } else if (kind == KIND_COMPRESSED_FULL && version >= COMPRESSED_FORMAT_VERSION) {
                    int holeOff = b.getShort() & 0xFFFF;
                    int holeLen = b.getShort() & 0xFFFF;
                    if (holeOff + holeLen > PageFormat.PAGE_SIZE) {
                        throw new IntegrityException(where(lsn) + " has a full-page image with a hole past the page end");
                    }
                    int codec = b.get() & 0xFF;
                    int n = b.getShort() & 0xFFFF;
                    int imageCrc = b.getInt();
                    int at = b.position();
                    if (at + n > end) {
                        throw new IntegrityException(where(lsn) + " is malformed: a full-page image runs past its end");
                    }
                    b.position(at + n);
                    if (scratch == null) {
                        scratch = ImageCodecs.take();
                    }
                    visitor.compressedImage(at);
                    ImageCodecs.decompress(codec, scratch, data, at, n, page, holeOff, holeLen, imageCrc, lsn);
                    if (codecSeen == 0) {
                        codecSeen = codec;
                    }
                    visitor.fullPage(page, scratch.page, 0, holeOff, holeLen);
                } else if (kind == KIND_DELTA) {
                    int offset = b.getShort() & 0xFFFF;
                    int n = b.getShort() & 0xFFFF;
                    if (offset + n > PageFormat.PAGE_SIZE) {
                        throw new IntegrityException(where(lsn) + " is malformed: page change out of bounds: page " + page
                                + " offset " + offset + " length " + n);
                    }
                    int at = b.position();
                    if (at + n > end) {
                        throw new IntegrityException(where(lsn) + " is malformed: a change runs past its end");
                    }
                    b.position(at + n);
                    visitor.delta(page, offset, data, at, n);
                } else {
                    throw new IntegrityException(where(lsn) + " has an unknown change kind " + kind);
                }
            }
            if (b.remaining() != 4) {
                throw new IntegrityException(where(lsn) + " has " + (b.remaining() - 4) + " trailing bytes");
            }
            if (version == COMPRESSED_FORMAT_VERSION && codecSeen == 0) {
                // the encoder writes version 3 only for an entry holding a compressed image
                throw new IntegrityException(where(lsn) + " is a version 3 entry without a compressed full-page image");
            }
            return new WalEntry(lsn, timeline, time, horizon, List.of(), len,
                    codecSeen == 0 ? WalCompression.NONE : WalCompression.ofCodec(codecSeen));
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IntegrityException(where(lsn) + " is malformed: " + e.getMessage(), e);
        } finally {
            if (scratch != null) {
                ImageCodecs.give(scratch);
            }
        }
    }

    /** Names an entry in an error (built only for one: walk runs once or twice per entry of a restore). */
    static String where(long lsn) {
        return "WAL entry at LSN " + Lsn.format(lsn);
    }

    private static void checkVersion(long lsn, int version) {
        if (version < FORMAT_VERSION || version > COMPRESSED_FORMAT_VERSION) {
            throw new FormatVersionException(where(lsn), version, FORMAT_VERSION, COMPRESSED_FORMAT_VERSION);
        }
    }
}
