package io.walship.wal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32C;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consistent image of every page at one LSN, taken while writers go on (copy-on-write).
 *
 * <p>Taking it pauses writers only to record the LSN; the snapshot then waits until the WAL is
 * durable up to it, so it never describes a state a crash could take back. Afterwards a writer
 * about to change a page the snapshot has not yet copied hands over the page's before-image
 * ({@link #preserve}); the snapshot reads every other page as it is now, under the store's read
 * lock, a batch at a time.
 *
 * <p><b>Bounded:</b> the before-images it keeps grow with the pages changed while it is open. Past
 * {@link Limits#maxBytes} of them, or once open longer than {@link Limits#maxAge}, the snapshot is
 * abandoned: its before-images are dropped, the store stops feeding it, and its reader gets a
 * {@link SnapshotAbandonedException} naming the LSN, what it held and the limit. A stalled reader
 * (say a stalled {@code /snapshot} client) so costs at most the limit.
 *
 * <p>{@link #openStream} yields the image format of docs/FORMAT.md ("Snapshot image"); {@link
 * SnapshotLoader} turns it back into a data directory. {@link #pages} reads the image page by
 * page (used for the state digest). One thread per snapshot; close it when done.
 */
public final class Snapshot implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Snapshot.class);
    public static final int MAGIC = 0x5753534E;
    public static final int TRAILER_MAGIC = 0x57535345;
    public static final int FORMAT_VERSION = 1;
    public static final int HEADER_SIZE = 64;
    public static final int TRAILER_SIZE = 16;
    private static final int BATCH_PAGES = 64;

    /** What a snapshot needs from its store. */
    interface Source {
        <T> T underReadLock(java.util.function.Supplier<T> action);

        /** A copy of the page as it is now; called under the read lock. */
        byte[] currentPage(int pageNo);

        void release(Snapshot snapshot);

        /** The snapshot gave up (it is released as well). */
        void abandoned(Snapshot snapshot);
    }

    /** How much a snapshot may keep, and for how long ({@link StoreOptions#withSnapshotLimits}). */
    record Limits(long maxBytes, Duration maxAge, Clock clock) {
        static Limits of(StoreOptions o) {
            return new Limits(o.snapshotByteLimit(), o.snapshotMaxAge(), o.clock());
        }
    }

    private final Source source;
    private final long lsn;
    private final int timeline;
    private final long systemId;
    private final int pageCount;
    private final long commitTimeMicros;
    private final Limits limits;
    private final Instant openedAt;
    // guarded by the store's lock: writers add (and may abandon) under the write lock, this
    // snapshot's one reader takes and removes under the read lock, the age check runs under either
    private final Map<Integer, byte[]> preserved = new HashMap<>();
    private final BitSet copied = new BitSet();
    private volatile long preservedBytes;
    private volatile String abandoned;
    private boolean closed;

    Snapshot(Source source, long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros,
             Limits limits) {
        this.source = source;
        this.lsn = lsn;
        this.timeline = timeline;
        this.systemId = systemId;
        this.pageCount = pageCount;
        this.commitTimeMicros = commitTimeMicros;
        this.limits = limits;
        this.openedAt = limits.clock().instant();
    }

    public long lsn() {
        return lsn;
    }

    public int timeline() {
        return timeline;
    }

    public long systemId() {
        return systemId;
    }

    public int pageCount() {
        return pageCount;
    }

    public long commitTimeMicros() {
        return commitTimeMicros;
    }

    /** Size in bytes of the stream {@link #openStream} produces. */
    public long imageSize() {
        return HEADER_SIZE + (long) pageCount * PageFormat.PAGE_SIZE + TRAILER_SIZE;
    }

    /** Bytes of before-images this snapshot keeps now. */
    public long preservedBytes() {
        return preservedBytes;
    }

    /** Whether the snapshot was given up (see the class comment); its reader gets the reason. */
    public boolean isAbandoned() {
        return abandoned != null;
    }

    /** Whether {@link #preserve} would keep page {@code pageNo}'s before-image now. Write lock. */
    boolean wants(int pageNo) {
        return abandoned == null && pageNo < pageCount && !copied.get(pageNo) && !preserved.containsKey(pageNo);
    }

    /** Called by a writer, under the store's write lock, before it first changes a page. */
    void preserve(int pageNo, byte[] beforeImage) {
        if (abandoned != null || pageNo >= pageCount || copied.get(pageNo)) {
            return;
        }
        if (preserved.putIfAbsent(pageNo, beforeImage) == null) {
            preservedBytes += PageFormat.PAGE_SIZE;
            if (preservedBytes > limits.maxBytes()) {
                abandon("it held " + mib(preservedBytes) + " of before-images (pages changed since it was taken),"
                        + " over the limit of " + mib(limits.maxBytes()) + "; read it faster, or raise the limit");
            }
        }
    }

    /**
     * Abandons the snapshot if it has been open longer than its limit. Under the store's write
     * lock, or by its own reader under the read lock. Returns whether it is abandoned.
     */
    boolean checkAge() {
        if (abandoned == null) {
            Duration open = Duration.between(openedAt, limits.clock().instant());
            if (open.compareTo(limits.maxAge()) > 0) {
                abandon("it was open for " + open + ", over the limit of " + limits.maxAge() + " (holding "
                        + mib(preservedBytes) + " of before-images); read it faster, or raise the limit");
            }
        }
        return abandoned != null;
    }

    private void abandon(String why) {
        String message = "snapshot at LSN " + Lsn.format(lsn) + " (timeline " + timeline + ") was abandoned: " + why;
        preserved.clear();
        preservedBytes = 0;
        abandoned = message;
        LOG.warn("{}", message);
        source.abandoned(this);
    }

    private static String mib(long bytes) {
        return bytes < 1 << 20 ? (bytes >> 10) + " KiB"
                : String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
    }

    /** Throws the reason if the snapshot was abandoned. Under the read lock. */
    private void checkUsable() {
        if (checkAge()) {
            throw new SnapshotAbandonedException(lsn, abandoned);
        }
    }

    private byte[] pageAsOfSnapshot(int pageNo) {
        checkUsable();
        byte[] p = preserved.get(pageNo);
        return p != null ? p.clone() : source.currentPage(pageNo);
    }

    /** Page-by-page read access to the image (for scans and digests). */
    public PageAccess pages() {
        return pageNo -> {
            if (pageNo >= pageCount) {
                throw new IntegrityException("page " + pageNo + " is beyond the snapshot's " + pageCount + " pages");
            }
            return source.underReadLock(() -> pageAsOfSnapshot(pageNo));
        };
    }

    /** Like {@link #pages()}, recording in {@code seen} the LSN of every page read (what a scan depends on). */
    public PageAccess pages(ReadLsn seen) {
        return seen.tracking(pages());
    }

    /** The image as a byte stream: header, every page (sealed with its checksum), trailer. */
    public InputStream openStream() {
        return new ImageStream();
    }

    byte[] header() {
        return header(lsn, timeline, systemId, pageCount, commitTimeMicros);
    }

    /** The image header of a snapshot with these values (also what a composed incremental chain hashes). */
    static byte[] header(long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
        b.putInt(MAGIC).putShort((short) FORMAT_VERSION).putShort((short) PageFormat.PAGE_SIZE);
        b.putLong(lsn).putInt(timeline).putLong(systemId).putInt(pageCount).putLong(commitTimeMicros);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, HEADER_SIZE - 4);
        b.putInt(HEADER_SIZE - 4, (int) crc.getValue());
        return b.array();
    }

    static byte[] trailer(int pageCount, int pagesCrc) {
        ByteBuffer b = ByteBuffer.allocate(TRAILER_SIZE);
        b.putInt(TRAILER_MAGIC).putInt(pageCount).putInt(pagesCrc);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, 12);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    private final class ImageStream extends InputStream {
        private byte[] buf = header();
        private int pos;
        private int nextPage;
        private boolean trailerDone;
        private final CRC32C pagesCrc = new CRC32C();

        private boolean fill() {
            if (pos < buf.length) {
                return true;
            }
            if (nextPage < pageCount) {
                int from = nextPage;
                int to = Math.min(pageCount, from + BATCH_PAGES);
                byte[][] pages = source.underReadLock(() -> {
                    byte[][] out = new byte[to - from][];
                    for (int i = from; i < to; i++) {
                        out[i - from] = pageAsOfSnapshot(i);
                        if (preserved.remove(i) != null) {
                            preservedBytes -= PageFormat.PAGE_SIZE;
                        }
                        copied.set(i);
                    }
                    return out;
                });
                byte[] chunk = new byte[(to - from) * PageFormat.PAGE_SIZE];
                for (int i = 0; i < pages.length; i++) {
                    PageFormat.putInt(pages[i], PageFormat.OFF_CRC, PageFormat.checksum(pages[i]));
                    System.arraycopy(pages[i], 0, chunk, i * PageFormat.PAGE_SIZE, PageFormat.PAGE_SIZE);
                }
                pagesCrc.update(chunk);
                nextPage = to;
                buf = chunk;
                pos = 0;
                return true;
            }
            if (!trailerDone) {
                trailerDone = true;
                buf = trailer(pageCount, (int) pagesCrc.getValue());
                pos = 0;
                return true;
            }
            return false;
        }

        @Override
        public int read() throws IOException {
            if (!fill()) {
                return -1;
            }
            return buf[pos++] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, buf.length - pos);
            System.arraycopy(buf, pos, b, off, n);
            pos += n;
            return n;
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            source.release(this);
        }
    }

    @Override
    public String toString() {
        return "snapshot at LSN " + Lsn.format(lsn) + (abandoned != null ? " (abandoned)" : "");
    }
}
