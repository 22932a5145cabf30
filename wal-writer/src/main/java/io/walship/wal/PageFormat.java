package io.walship.wal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The byte layout of a page, documented in docs/FORMAT.md ("Pages"). All integers big-endian.
 *
 * <pre>
 *  0  u64 page LSN: LSN of the last commit that changed the page
 *  8  u32 CRC32C of the whole page computed with these 4 bytes zero (only on disk; 0 in memory)
 * 12  u8  page type (0 free, 1 meta, 2 leaf, 3 internal)
 * 13  u8  format version
 * 14  u16 cell count
 * 16  u16 cell content start (lowest offset used by cells; PAGE_SIZE when empty)
 * 18  u16 fragmented bytes (holes left by deleted cells inside the cell area)
 * 20  u32 link: leaf = right sibling page (0 none); internal = leftmost child
 * 24  8 bytes reserved (zero)
 * 32  u16 slot array: offset of each cell, in key order
 * </pre>
 *
 * Stateless and thread-safe; callers own the byte arrays.
 */
final class PageFormat {
    public static final int PAGE_SIZE = 4096;
    public static final int FORMAT_VERSION = 1;
    public static final int HEADER_SIZE = 32;

    public static final int OFF_LSN = 0;
    public static final int OFF_CRC = 8;
    public static final int OFF_TYPE = 12;
    public static final int OFF_VERSION = 13;
    public static final int OFF_COUNT = 14;
    public static final int OFF_CONTENT_START = 16;
    public static final int OFF_FRAGMENTED = 18;
    public static final int OFF_LINK = 20;

    public static final byte TYPE_FREE = 0;
    public static final byte TYPE_META = 1;
    public static final byte TYPE_LEAF = 2;
    public static final byte TYPE_INTERNAL = 3;

    private PageFormat() {
    }

    public static long lsn(byte[] p) {
        return getLong(p, OFF_LSN);
    }

    public static void setLsn(byte[] p, long lsn) {
        putLong(p, OFF_LSN, lsn);
    }

    public static byte type(byte[] p) {
        return p[OFF_TYPE];
    }

    /** Clears a page and makes it an empty node of the given type (the LSN is kept). */
    public static void init(byte[] p, byte type) {
        long lsn = lsn(p);
        java.util.Arrays.fill(p, (byte) 0);
        setLsn(p, lsn);
        p[OFF_TYPE] = type;
        p[OFF_VERSION] = (byte) FORMAT_VERSION;
        putShort(p, OFF_CONTENT_START, PAGE_SIZE);
    }

    /** CRC32C over the page with the checksum field taken as zero. */
    public static int checksum(byte[] p) {
        CRC32C crc = new CRC32C();
        crc.update(p, 0, OFF_CRC);
        crc.update(ZERO4, 0, 4);
        crc.update(p, OFF_CRC + 4, PAGE_SIZE - OFF_CRC - 4);
        return (int) crc.getValue();
    }

    /** A copy of an in-memory page as it is written to disk: with its checksum filled in. */
    public static byte[] sealedCopy(byte[] p) {
        byte[] out = p.clone();
        putInt(out, OFF_CRC, checksum(p));
        return out;
    }

    /** Copies an in-memory page to {@code dst[off..)} with its checksum set, as {@link #sealedCopy} would. */
    public static void sealInto(byte[] p, byte[] dst, int off) {
        System.arraycopy(p, 0, dst, off, PAGE_SIZE);
        putInt(dst, off + OFF_CRC, checksum(p));
    }

    /** Checks a page read from disk and clears its checksum field for in-memory use. */
    public static void verifyAndOpen(byte[] p, int pageNo, String file) {
        int stored = getInt(p, OFF_CRC);
        int actual = checksum(p);
        if (stored != actual) {
            throw new IntegrityException("page " + pageNo + " of " + file + " fails its checksum (stored "
                    + Integer.toHexString(stored) + ", computed " + Integer.toHexString(actual)
                    + "): torn or corrupt page");
        }
        if (p[OFF_TYPE] != TYPE_FREE && p[OFF_VERSION] != FORMAT_VERSION) {
            throw new FormatVersionException("page " + pageNo + " of " + file, p[OFF_VERSION], FORMAT_VERSION);
        }
        putInt(p, OFF_CRC, 0);
    }

    private static final byte[] ZERO4 = new byte[4];

    public static int getShort(byte[] b, int off) {
        return ((b[off] & 0xFF) << 8) | (b[off + 1] & 0xFF);
    }

    public static void putShort(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 8);
        b[off + 1] = (byte) v;
    }

    public static int getInt(byte[] b, int off) {
        return ((b[off] & 0xFF) << 24) | ((b[off + 1] & 0xFF) << 16) | ((b[off + 2] & 0xFF) << 8) | (b[off + 3] & 0xFF);
    }

    public static void putInt(byte[] b, int off, int v) {
        b[off] = (byte) (v >>> 24);
        b[off + 1] = (byte) (v >>> 16);
        b[off + 2] = (byte) (v >>> 8);
        b[off + 3] = (byte) v;
    }

    public static long getLong(byte[] b, int off) {
        return ByteBuffer.wrap(b, off, 8).getLong();
    }

    public static void putLong(byte[] b, int off, long v) {
        ByteBuffer.wrap(b, off, 8).putLong(v);
    }
}
