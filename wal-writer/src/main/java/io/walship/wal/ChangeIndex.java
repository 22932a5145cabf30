package io.walship.wal;

import java.util.Arrays;

/**
 * The page changes of encoded WAL entries held in one array (a segment's body), recorded while
 * each entry is checked ({@link #add}: {@link EntryCodec#walk} with its checksum), so that a
 * replay applies them without parsing the entries again ({@link Redo#apply(ChangeIndex, int)}).
 *
 * <p>It is compact, because it is held beside the body it points into and counts in the same
 * memory budget: one int per change (where the change's record starts in the array: its kind,
 * page, hole or offset and length are read back from there) and two per entry (where the entry
 * starts, and its first change). An entry's LSN, timeline, commit time and length are read from
 * its header and records. {@link #bytesFor} and {@link #changeBound} size it before it is made,
 * so that its arrays never grow by doubling; {@link #trim} drops what the sizing overestimated.
 * The array must not change while the index is used. Filled by one thread, then read by one
 * (hand it over through a happens-before edge, e.g. a future); not thread-safe.
 */
public final class ChangeIndex {
    /** The smallest change record: kind u8, page u32, two u16 (a delta or image of no bytes). */
    private static final int MIN_RECORD = 9;
    /** A compressed image's record before its stored bytes: kind, page, hole, codec u8, stored length u16, image CRC u32. */
    private static final int COMPRESSED_RECORD = 16;
    /** An entry's header and CRC without any change. */
    private static final int EMPTY_ENTRY = EntryCodec.HEADER_SIZE + 4;
    /** Heap bytes of an int array's header (compressed oops; an estimate, as for the bodies). */
    private static final int ARRAY_HEADER = 16;

    private final byte[] data;
    /** Where each change's record starts in {@code data} (its kind byte). */
    private int[] changes;
    private int changeCount;
    /** Where each entry starts in {@code data}. */
    private int[] entryAt;
    /** Entry {@code e}'s changes are {@code changes[firstChange[e], firstChange[e + 1])}. */
    private int[] firstChange;
    private int entries;
    /** Where the record of the compressed image being handed out starts, or -1. */
    private int compressedAt = -1;

    private final EntryCodec.ChangeVisitor recorder = new EntryCodec.ChangeVisitor() {
        @Override
        public void compressedImage(int storedAt) {
            compressedAt = storedAt - COMPRESSED_RECORD;
        }

        @Override
        public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
            if (compressedAt >= 0) {
                record(compressedAt);
                compressedAt = -1;
            } else {
                record(off - MIN_RECORD);
            }
        }

        @Override
        public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
            record(off - MIN_RECORD);
        }
    };

    /**
     * An empty index of the entries held in {@code data}, with room for {@code entries} entries
     * and {@code changes} changes (from {@link #changeBound}; it grows past them only if they
     * were too few, by half each time).
     */
    public ChangeIndex(byte[] data, int entries, int changes) {
        this.data = data;
        this.entryAt = new int[Math.max(0, entries)];
        this.firstChange = new int[Math.max(0, entries) + 1];
        this.changes = new int[Math.max(0, changes)];
    }

    /**
     * At least as many changes as the entry at {@code data[off, off + len)} holds if it is
     * sound, read from its header without checking it: its change count, less a checkpoint
     * horizon (not a page change), and never more than its length leaves room for. An entry
     * that fails its check later may hold fewer; none holds more.
     */
    public static int changeBound(byte[] data, int off, int len) {
        if (len < EMPTY_ENTRY + MIN_RECORD || off < 0 || off + len > data.length) {
            return 0;
        }
        long count = PageFormat.getInt(data, off + 28) & 0xFFFFFFFFL;
        int version = PageFormat.getShort(data, off + 4);
        if (count > 0 && version >= EntryCodec.HORIZON_FORMAT_VERSION && data[off + EntryCodec.HEADER_SIZE] == EntryCodec.KIND_HORIZON) {
            count--;
        }
        return (int) Math.min(count, (len - EMPTY_ENTRY) / MIN_RECORD);
    }

    /** Heap bytes of an index of {@code entries} entries and {@code changes} changes (what the budget counts). */
    public static long bytesFor(long entries, long changes) {
        return 3L * ARRAY_HEADER + 4L * (entries + entries + 1 + changes);
    }

    /** Heap bytes its arrays hold now. */
    public long bytes() {
        return 3L * ARRAY_HEADER + 4L * ((long) entryAt.length + firstChange.length + changes.length);
    }

    /**
     * Checks the entry at {@code data[off, off + len)} completely, as {@link EntryCodec#walk}
     * with its checksum does (a compressed image is decompressed and its image CRC checked), and
     * records it as the next entry. Returns the entry without its changes.
     *
     * @throws IntegrityException as {@link EntryCodec#walk}; the index is then unusable
     */
    public WalEntry add(int off, int len) {
        int before = changeCount;
        WalEntry e;
        try {
            e = EntryCodec.walk(data, off, len, true, recorder);
        } catch (RuntimeException x) {
            changeCount = before;
            compressedAt = -1;
            throw x;
        }
        if (entries == entryAt.length) {
            int n = entries + Math.max(1, entries >> 1);
            entryAt = Arrays.copyOf(entryAt, n);
            firstChange = Arrays.copyOf(firstChange, n + 1);
        }
        entryAt[entries] = off;
        entries++;
        firstChange[entries] = changeCount;
        return e;
    }

    /** Drops the room the sizing left unused, so that the index holds only what it records. */
    public void trim() {
        if (changes.length != changeCount) {
            changes = Arrays.copyOf(changes, changeCount);
        }
        if (entryAt.length != entries) {
            entryAt = Arrays.copyOf(entryAt, entries);
            firstChange = Arrays.copyOf(firstChange, entries + 1);
        }
    }

    private void record(int at) {
        if (changeCount == changes.length) {
            changes = Arrays.copyOf(changes, changeCount + Math.max(16, changeCount >> 1));
        }
        changes[changeCount++] = at;
    }

    public int entries() {
        return entries;
    }

    /** Changes recorded, over all entries. */
    public int changeCount() {
        return changeCount;
    }

    private int at(int entry) {
        if (entry < 0 || entry >= entries) {
            throw new IndexOutOfBoundsException("entry " + entry + " of " + entries);
        }
        return entryAt[entry];
    }

    public long lsn(int entry) {
        return getLong(data, at(entry) + 8);
    }

    public int timeline(int entry) {
        return PageFormat.getInt(data, at(entry) + 16);
    }

    public long commitTimeMicros(int entry) {
        return EntryCodec.commitTimeOf(data, at(entry));
    }

    /** The entry's encoded size: its header, horizon and changes as they lie in the array, and its CRC. */
    public int length(int entry) {
        int start = at(entry);
        int last = firstChange[entry + 1] - 1;
        int end;
        if (last >= firstChange[entry]) {
            int r = changes[last];
            end = switch (data[r]) {
                case EntryCodec.KIND_FULL -> r + MIN_RECORD + PageFormat.PAGE_SIZE - PageFormat.getShort(data, r + 7);
                case EntryCodec.KIND_DELTA -> r + MIN_RECORD + PageFormat.getShort(data, r + 7);
                default -> r + COMPRESSED_RECORD + PageFormat.getShort(data, r + 10);
            };
        } else {
            // no page change: the header, then a checkpoint horizon if the count says one is there
            end = start + EntryCodec.HEADER_SIZE + (PageFormat.getInt(data, start + 28) != 0 ? MIN_RECORD : 0);
        }
        return end + 4 - start;
    }

    private static long getLong(byte[] b, int off) {
        return (long) PageFormat.getInt(b, off) << 32 | PageFormat.getInt(b, off + 4) & 0xFFFFFFFFL;
    }

    /**
     * Hands entry {@code entry}'s changes to {@code visitor} in order, as {@link EntryCodec#walk}
     * would: plain images and deltas straight from the array, a compressed image decompressed
     * (and its image CRC checked again) into a buffer valid during the call.
     */
    void replay(int entry, EntryCodec.ChangeVisitor visitor) {
        at(entry);
        ImageCodecs.Scratch scratch = null;
        try {
            for (int c = firstChange[entry], end = firstChange[entry + 1]; c < end; c++) {
                int r = changes[c];
                int page = PageFormat.getInt(data, r + 1);
                int a = PageFormat.getShort(data, r + 5); // hole offset or page offset
                int b = PageFormat.getShort(data, r + 7); // hole length or delta length
                switch (data[r]) {
                    case EntryCodec.KIND_FULL -> visitor.fullPage(page, data, r + MIN_RECORD, a, b);
                    case EntryCodec.KIND_DELTA -> visitor.delta(page, a, data, r + MIN_RECORD, b);
                    case EntryCodec.KIND_COMPRESSED_FULL -> {
                        // after kind, page and hole: codec u8, stored length u16, image CRC u32, the stored bytes
                        if (scratch == null) {
                            scratch = ImageCodecs.take();
                        }
                        ImageCodecs.decompress(data[r + 9] & 0xFF, scratch, data, r + COMPRESSED_RECORD,
                                PageFormat.getShort(data, r + 10), page, a, b, PageFormat.getInt(data, r + 12),
                                lsn(entry));
                        visitor.fullPage(page, scratch.page, 0, a, b);
                    }
                    default -> throw new IllegalStateException("change " + c + " at " + r + " has kind " + data[r]
                            + ": the array changed under its index");
                }
            }
        } finally {
            if (scratch != null) {
                ImageCodecs.give(scratch);
            }
        }
    }
}
