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
 *  4 u16 format version (1, or 2 if the entry records a checkpoint horizon)
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
 *      3 horizon:   u64 LSN (version 2 only; at most one, and only as the first change)
 *  … u32 CRC32C of every preceding byte of the entry
 * </pre>
 *
 * <p>An entry without a horizon is written as version 1, byte for byte what older builds wrote
 * and read. An entry with one is version 2, which older builds refuse as a format-version
 * mismatch: to them an unknown kind in a version 1 entry would look like damage, and a damaged
 * last entry like a torn tail to discard. Stateless and thread-safe.
 */
public final class EntryCodec {
    public static final int MAGIC = 0x57535745;
    /** The base entry format, written for every entry without a horizon and read by every build. */
    public static final int FORMAT_VERSION = 1;
    /** The format of an entry that records a checkpoint horizon; the newest this build reads. */
    public static final int HORIZON_FORMAT_VERSION = 2;
    public static final int HEADER_SIZE = 32;
    private static final byte KIND_DELTA = 1;
    private static final byte KIND_FULL = 2;
    private static final byte KIND_HORIZON = 3;
    private static final int HORIZON_SIZE = 9;

    private EntryCodec() {
    }

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

    /** Encodes an entry exactly as the WAL holds it (a replica re-encodes received entries with this). */
    public static byte[] encode(WalEntry e) {
        return encode(e.lsn(), e.timeline(), e.commitTimeMicros(), e.horizon(), e.changes());
    }

    /**
     * Encodes an entry that records checkpoint horizon {@code horizon} ({@link Lsn#NONE}: none;
     * otherwise {@code 0 < horizon < lsn}).
     */
    public static byte[] encode(long lsn, int timeline, long commitTimeMicros, long horizon, List<PageChange> changes) {
        if (horizon < 0 || horizon != Lsn.NONE && horizon >= lsn) {
            throw new IllegalArgumentException("checkpoint horizon " + Lsn.format(horizon) + " of the entry at LSN "
                    + Lsn.format(lsn) + " must lie before it");
        }
        boolean withHorizon = horizon != Lsn.NONE;
        int size = HEADER_SIZE + 4 + (withHorizon ? HORIZON_SIZE : 0);
        int[][] holes = new int[changes.size()][];
        for (int i = 0; i < changes.size(); i++) {
            PageChange c = changes.get(i);
            if (c.fullPage()) {
                holes[i] = hole(c.bytes());
                size += 9 + PageFormat.PAGE_SIZE - holes[i][1];
            } else {
                size += 9 + c.bytes().length;
            }
        }
        byte[] out = new byte[size];
        ByteBuffer b = ByteBuffer.wrap(out);
        b.putInt(MAGIC).putShort((short) (withHorizon ? HORIZON_FORMAT_VERSION : FORMAT_VERSION)).putShort((short) 0);
        b.putLong(lsn).putInt(timeline).putLong(commitTimeMicros).putInt(changes.size() + (withHorizon ? 1 : 0));
        if (withHorizon) {
            b.put(KIND_HORIZON).putLong(horizon);
        }
        for (int i = 0; i < changes.size(); i++) {
            PageChange c = changes.get(i);
            if (c.fullPage()) {
                int holeOff = holes[i][0];
                int holeLen = holes[i][1];
                b.put(KIND_FULL).putInt(c.pageNo()).putShort((short) holeOff).putShort((short) holeLen);
                b.put(c.bytes(), 0, holeOff);
                b.put(c.bytes(), holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
            } else {
                b.put(KIND_DELTA).putInt(c.pageNo()).putShort((short) c.offset()).putShort((short) c.bytes().length)
                        .put(c.bytes());
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(out, 0, b.position());
        b.putInt((int) crc.getValue());
        return out;
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
     * {@code holeLen} zero bytes at page offset {@code holeOff}), a delta is {@code len} bytes at
     * {@code src[off..)} for page offset {@code pageOffset}. The bytes are valid during the call.
     */
    public interface ChangeVisitor {
        void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen);

        void delta(int pageNo, int pageOffset, byte[] src, int off, int len);
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
     * Decodes and verifies one entry.
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
        return new WalEntry(e.lsn(), e.timeline(), e.commitTimeMicros(), e.horizon(), changes, len);
    }

    /** The LSN in an encoded entry's header, unverified. */
    public static long lsnOf(byte[] data, int off, int len) {
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        return ByteBuffer.wrap(data, off, len).getLong(off + 8);
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
        try {
            long horizon = Lsn.NONE;
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
            return new WalEntry(lsn, timeline, time, horizon, List.of(), len);
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IntegrityException(where(lsn) + " is malformed: " + e.getMessage(), e);
        }
    }

    /** Names an entry in an error (built only for one: walk runs once or twice per entry of a restore). */
    private static String where(long lsn) {
        return "WAL entry at LSN " + Lsn.format(lsn);
    }

    private static void checkVersion(long lsn, int version) {
        if (version < FORMAT_VERSION || version > HORIZON_FORMAT_VERSION) {
            throw new FormatVersionException(where(lsn), version, FORMAT_VERSION, HORIZON_FORMAT_VERSION);
        }
    }
}
