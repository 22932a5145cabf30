package io.walship.wal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * A consistent image of every page at one LSN, taken while writers go on (copy-on-write).
 *
 * <p>Taking it pauses writers only to record the LSN. Afterwards a writer about to change a page
 * the snapshot has not yet copied hands over the page's before-image ({@link #preserve}); the
 * snapshot reads every other page as it is now, under the store's read lock, a batch at a time.
 * Memory held is bounded by the pages changed while the copy runs.
 *
 * <p>{@link #openStream} yields the image format of docs/FORMAT.md ("Snapshot image"); {@link
 * SnapshotLoader} turns it back into a data directory. {@link #pages} reads the image page by
 * page (used for the state digest). One thread per snapshot; close it when done.
 */
public final class Snapshot implements AutoCloseable {
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
    }

    private final Source source;
    private final long lsn;
    private final int timeline;
    private final long systemId;
    private final int pageCount;
    private final long commitTimeMicros;
    // guarded by the store's lock: writers add under the write lock, this snapshot reads under the read lock
    private final Map<Integer, byte[]> preserved = new HashMap<>();
    private final BitSet copied = new BitSet();
    private boolean closed;

    Snapshot(Source source, long lsn, int timeline, long systemId, int pageCount, long commitTimeMicros) {
        this.source = source;
        this.lsn = lsn;
        this.timeline = timeline;
        this.systemId = systemId;
        this.pageCount = pageCount;
        this.commitTimeMicros = commitTimeMicros;
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

    /** Called by a writer, under the store's write lock, before it first changes a page. */
    void preserve(int pageNo, byte[] beforeImage) {
        if (pageNo < pageCount && !copied.get(pageNo)) {
            preserved.putIfAbsent(pageNo, beforeImage);
        }
    }

    private byte[] pageAsOfSnapshot(int pageNo) {
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

    /** The image as a byte stream: header, every page (sealed with its checksum), trailer. */
    public InputStream openStream() {
        return new ImageStream();
    }

    byte[] header() {
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
                        preserved.remove(i);
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
}
