package io.walship.wal;

/**
 * The page changes of encoded WAL entries held in one array (a segment's body), recorded while
 * each entry is checked ({@link #add}: {@link EntryCodec#walk} with its checksum), so that a
 * replay applies them without parsing the entries again ({@link Redo#apply(ChangeIndex, int)}).
 * Per entry it keeps the header fields replay needs and where its changes start; per change the
 * page, the kind and where its bytes lie in the array. The array must not change while the index
 * is used. Filled by one thread, then read by one (hand it over through a happens-before edge,
 * e.g. a future); not thread-safe.
 */
public final class ChangeIndex {
    private static final int FULL = 0;
    private static final int COMPRESSED = 1;
    private static final int DELTA = 2;
    /** Ints per change: page, kind, offset of its bytes in the array, (hole offset or page offset) << 16 | length. */
    private static final int INTS = 4;

    private final byte[] data;
    private int[] changes = new int[INTS * 1024];
    private int changeCount;
    private int[] firstChange;
    private long[] lsns;
    private int[] timelines;
    private long[] commitTimes;
    private int[] lengths;
    private int entries;
    /** Where the stored bytes of the compressed image being handed out lie, or -1. */
    private int compressedAt = -1;

    private final EntryCodec.ChangeVisitor recorder = new EntryCodec.ChangeVisitor() {
        @Override
        public void compressedImage(int storedAt) {
            compressedAt = storedAt;
        }

        @Override
        public void fullPage(int pageNo, byte[] src, int off, int holeOff, int holeLen) {
            if (compressedAt >= 0) {
                record(pageNo, COMPRESSED, compressedAt, holeOff, holeLen);
                compressedAt = -1;
            } else {
                record(pageNo, FULL, off, holeOff, holeLen);
            }
        }

        @Override
        public void delta(int pageNo, int pageOffset, byte[] src, int off, int len) {
            record(pageNo, DELTA, off, pageOffset, len);
        }
    };

    /** An empty index of the entries held in {@code data}, room for {@code expectedEntries} to start with. */
    public ChangeIndex(byte[] data, int expectedEntries) {
        this.data = data;
        int n = Math.max(1, expectedEntries);
        firstChange = new int[n + 1];
        lsns = new long[n];
        timelines = new int[n];
        commitTimes = new long[n];
        lengths = new int[n];
    }

    /**
     * Checks the entry at {@code data[off, off + len)} completely, as {@link EntryCodec#walk}
     * with its checksum does (a compressed image is decompressed and its image CRC checked), and
     * records it as the next entry. Returns the entry without its changes.
     *
     * @throws IntegrityException as {@link EntryCodec#walk}; the index is then unusable
     */
    public WalEntry add(int off, int len) {
        WalEntry e = EntryCodec.walk(data, off, len, true, recorder);
        if (entries == lsns.length) {
            int n = entries * 2;
            firstChange = java.util.Arrays.copyOf(firstChange, n + 1);
            lsns = java.util.Arrays.copyOf(lsns, n);
            timelines = java.util.Arrays.copyOf(timelines, n);
            commitTimes = java.util.Arrays.copyOf(commitTimes, n);
            lengths = java.util.Arrays.copyOf(lengths, n);
        }
        lsns[entries] = e.lsn();
        timelines[entries] = e.timeline();
        commitTimes[entries] = e.commitTimeMicros();
        lengths[entries] = len;
        entries++;
        firstChange[entries] = changeCount;
        return e;
    }

    private void record(int pageNo, int kind, int at, int a, int b) {
        if ((changeCount + 1) * INTS > changes.length) {
            changes = java.util.Arrays.copyOf(changes, changes.length * 2);
        }
        int i = changeCount * INTS;
        changes[i] = pageNo;
        changes[i + 1] = kind;
        changes[i + 2] = at;
        changes[i + 3] = a << 16 | b;
        changeCount++;
    }

    public int entries() {
        return entries;
    }

    public long lsn(int entry) {
        return lsns[entry];
    }

    public int timeline(int entry) {
        return timelines[entry];
    }

    public long commitTimeMicros(int entry) {
        return commitTimes[entry];
    }

    /** The entry's encoded size. */
    public int length(int entry) {
        return lengths[entry];
    }

    /**
     * Hands entry {@code entry}'s changes to {@code visitor} in order, as {@link EntryCodec#walk}
     * would: plain images and deltas straight from the array, a compressed image decompressed
     * (and its image CRC checked again) into a buffer valid during the call.
     */
    void replay(int entry, EntryCodec.ChangeVisitor visitor) {
        ImageCodecs.Scratch scratch = null;
        try {
            for (int c = firstChange[entry], end = firstChange[entry + 1]; c < end; c++) {
                int i = c * INTS;
                int page = changes[i];
                int at = changes[i + 2];
                int a = changes[i + 3] >>> 16;
                int b = changes[i + 3] & 0xFFFF;
                switch (changes[i + 1]) {
                    case FULL -> visitor.fullPage(page, data, at, a, b);
                    case DELTA -> visitor.delta(page, a, data, at, b);
                    default -> {
                        // the stored image's header precedes its bytes: codec u8, stored length u16, image CRC u32
                        if (scratch == null) {
                            scratch = ImageCodecs.take();
                        }
                        ImageCodecs.decompress(data[at - 7] & 0xFF, scratch, data, at, PageFormat.getShort(data, at - 6),
                                page, a, b, PageFormat.getInt(data, at - 4), lsns[entry]);
                        visitor.fullPage(page, scratch.page, 0, a, b);
                    }
                }
            }
        } finally {
            if (scratch != null) {
                ImageCodecs.give(scratch);
            }
        }
    }
}
