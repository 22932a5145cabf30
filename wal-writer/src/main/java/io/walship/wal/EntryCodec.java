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
 *  4 u16 format version
 *  6 u16 flags (0)
 *  8 u64 LSN
 * 16 u32 timeline
 * 20 u64 commit time, microseconds since the epoch
 * 28 u32 change count
 * 32 changes, each: u8 kind (1 delta, 2 full page), u32 page number,
 *                   delta: u16 offset, u16 length, bytes;
 *                   full page: u16 hole offset, u16 hole length, the page without the hole
 *                   (the hole is the page's longest run of zero bytes, as in PostgreSQL's
 *                   full-page images: a half-full node costs half a page)
 *  … u32 CRC32C of every preceding byte of the entry
 * </pre>
 * Stateless and thread-safe.
 */
public final class EntryCodec {
    public static final int MAGIC = 0x57535745;
    public static final int FORMAT_VERSION = 1;
    public static final int HEADER_SIZE = 32;
    private static final byte KIND_DELTA = 1;
    private static final byte KIND_FULL = 2;

    private EntryCodec() {
    }

    public static int encodedSize(List<PageChange> changes) {
        int size = HEADER_SIZE + 4;
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
        int size = HEADER_SIZE + 4;
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
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0);
        b.putLong(lsn).putInt(timeline).putLong(commitTimeMicros).putInt(changes.size());
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
        int len = data.length;
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        int magic = b.getInt();
        int version = b.getShort() & 0xFFFF;
        b.getShort();
        long lsn = b.getLong();
        CRC32C crc = new CRC32C();
        crc.update(data, 0, len - 4);
        if (magic != MAGIC || (int) crc.getValue() != ByteBuffer.wrap(data, len - 4, 4).getInt()) {
            throw new IntegrityException("WAL entry at LSN " + Lsn.format(lsn) + " (" + len + " bytes) fails its checksum");
        }
        if (version != FORMAT_VERSION) {
            throw new FormatVersionException("WAL entry at LSN " + Lsn.format(lsn), version, FORMAT_VERSION);
        }
        return new WalEntry(lsn, b.getInt(), b.getLong(), java.util.List.of(), len);
    }

    /**
     * Decodes and verifies one entry.
     *
     * @throws IntegrityException if the checksum, magic or structure is wrong (the message names
     *                            the LSN when the header is still readable)
     * @throws FormatVersionException if the entry was written by another format version
     */
    public static WalEntry decode(byte[] data, int off, int len) {
        if (len < HEADER_SIZE + 4) {
            throw new IntegrityException("WAL entry of " + len + " bytes is shorter than a header");
        }
        ByteBuffer b = ByteBuffer.wrap(data, off, len);
        int magic = b.getInt();
        int version = b.getShort() & 0xFFFF;
        b.getShort();
        long lsn = b.getLong();
        String where = "WAL entry at LSN " + Lsn.format(lsn);
        CRC32C crc = new CRC32C();
        crc.update(data, off, len - 4);
        int stored = ByteBuffer.wrap(data, off + len - 4, 4).getInt();
        if (magic != MAGIC || (int) crc.getValue() != stored) {
            throw new IntegrityException(where + " (" + len + " bytes) fails its checksum");
        }
        if (version != FORMAT_VERSION) {
            throw new FormatVersionException(where, version, FORMAT_VERSION);
        }
        int timeline = b.getInt();
        long time = b.getLong();
        int count = b.getInt();
        try {
            List<PageChange> changes = new ArrayList<>(Math.min(count, 1024));
            for (int i = 0; i < count; i++) {
                byte kind = b.get();
                int page = b.getInt();
                if (kind == KIND_FULL) {
                    int holeOff = b.getShort() & 0xFFFF;
                    int holeLen = b.getShort() & 0xFFFF;
                    if (holeOff + holeLen > PageFormat.PAGE_SIZE) {
                        throw new IntegrityException(where + " has a full-page image with a hole past the page end");
                    }
                    byte[] img = new byte[PageFormat.PAGE_SIZE];
                    b.get(img, 0, holeOff);
                    b.get(img, holeOff + holeLen, PageFormat.PAGE_SIZE - holeOff - holeLen);
                    changes.add(PageChange.fullPage(page, img));
                } else if (kind == KIND_DELTA) {
                    int offset = b.getShort() & 0xFFFF;
                    byte[] bytes = new byte[b.getShort() & 0xFFFF];
                    b.get(bytes);
                    changes.add(new PageChange(page, offset, bytes, false));
                } else {
                    throw new IntegrityException(where + " has an unknown change kind " + kind);
                }
            }
            if (b.remaining() != 4) {
                throw new IntegrityException(where + " has " + (b.remaining() - 4) + " trailing bytes");
            }
            return new WalEntry(lsn, timeline, time, changes, len);
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            throw new IntegrityException(where + " is malformed: " + e.getMessage(), e);
        }
    }
}
