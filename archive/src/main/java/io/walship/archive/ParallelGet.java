package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Reads one large object as a stream, fetching it in ranged GETs of {@code chunkBytes} with up to
 * {@code parallel} requests in flight ahead of the reader: the object arrives at the bandwidth of
 * several connections while the reader sees plain sequential bytes. Memory held is at most
 * {@code (parallel + 1) × chunkBytes}. A short or failed range fails the stream, for good. One reader.
 */
public final class ParallelGet extends InputStream {
    private final Prefetch<byte[]> chunks;
    /** Chunks the reader is done with, for the next ranges to be read into (full-size ones only). */
    private final java.util.concurrent.ConcurrentLinkedQueue<byte[]> spare = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private byte[] current = new byte[0];
    private int pos;
    private boolean closed;

    public ParallelGet(ObjectStore store, String key, long size, int parallel, long chunkBytes) {
        if (parallel < 1 || chunkBytes < 1) {
            throw new IllegalArgumentException("parallel and chunk size must be positive");
        }
        List<Supplier<byte[]>> tasks = new ArrayList<>();
        for (long off = 0; off < size; off += chunkBytes) {
            long o = off;
            long len = Math.min(chunkBytes, size - off);
            tasks.add(() -> fetch(store, key, size, o, len, spare));
        }
        this.chunks = new Prefetch<>("walship-get", parallel, parallel, tasks);
    }

    private static byte[] fetch(ObjectStore store, String key, long size, long off, long len, java.util.Queue<byte[]> spare) {
        try (InputStream in = store.getRange(key, off, len)) {
            byte[] b = spare.poll();
            if (b == null || b.length != len) {
                b = new byte[(int) len]; // one array of the range's size (readNBytes(n) would buffer it twice)
            }
            int n = in.readNBytes(b, 0, b.length);
            if (n != len) {
                throw new CorruptObjectException(key, "ends at byte " + (off + n) + ", its listing says " + size);
            }
            return b;
        } catch (IOException e) {
            throw new StorageException("read " + key + " at byte " + off + ": " + e.getMessage(), e);
        }
    }

    private boolean advance() throws IOException {
        if (closed) {
            throw new IOException("stream closed");
        }
        while (pos >= current.length) {
            if (!chunks.hasNext()) {
                return false;
            }
            if (current.length > 0) {
                spare.add(current);
            }
            current = chunks.next();
            pos = 0;
        }
        return true;
    }

    @Override
    public int read() throws IOException {
        return advance() ? current[pos++] & 0xFF : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        if (!advance()) {
            return -1;
        }
        int n = Math.min(len, current.length - pos);
        System.arraycopy(current, pos, b, off, n);
        pos += n;
        return n;
    }

    @Override
    public void close() {
        closed = true;
        chunks.close();
    }
}
