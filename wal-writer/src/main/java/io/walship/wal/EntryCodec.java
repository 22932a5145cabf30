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
 *                   delta: u16 offset, u16 length, bytes; full page: PAGE_SIZE bytes
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
            size += c.fullPage() ? 5 + PageFormat.PAGE_SIZE : 9 + c.bytes().length;
        }
        return size;
    }

    public static byte[] encode(long lsn, int timeline, long commitTimeMicros, List<PageChange> changes) {
        byte[] out = new byte[encodedSize(changes)];
        ByteBuffer b = ByteBuffer.wrap(out);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) 0);
        b.putLong(lsn).putInt(timeline).putLong(commitTimeMicros).putInt(changes.size());
        for (PageChange c : changes) {
            if (c.fullPage()) {
                b.put(KIND_FULL).putInt(c.pageNo()).put(c.bytes());
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
                    byte[] img = new byte[PageFormat.PAGE_SIZE];
                    b.get(img);
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
