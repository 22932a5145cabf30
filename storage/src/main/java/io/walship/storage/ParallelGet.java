package io.walship.storage;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Reads one large object as a stream, fetching it in ranged GETs of {@code chunkBytes} with up to
 * {@code parallel} requests in flight ahead of the reader: the object arrives at the bandwidth of
 * several connections while the reader sees plain sequential bytes. Memory held is at most
 * {@code (parallel + 1) × chunkBytes}. A short or failed range fails the stream. One reader.
 */
public final class ParallelGet extends InputStream {
    private final ObjectStore store;
    private final String key;
    private final long size;
    private final long chunkBytes;
    private final int parallel;
    private final ExecutorService pool;
    private final ArrayDeque<CompletableFuture<byte[]>> inFlight = new ArrayDeque<>();
    private long nextOffset;
    private byte[] current = new byte[0];
    private int pos;
    private boolean closed;
    /** The first failure; every later read rethrows it (a failed chunk must never be skipped). */
    private RuntimeException failure;

    public ParallelGet(ObjectStore store, String key, long size, int parallel, long chunkBytes) {
        if (parallel < 1 || chunkBytes < 1) {
            throw new IllegalArgumentException("parallel and chunk size must be positive");
        }
        this.store = store;
        this.key = key;
        this.size = size;
        this.chunkBytes = chunkBytes;
        this.parallel = parallel;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(parallel, r -> {
            Thread t = new Thread(r, "walship-get-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        fill();
    }

    private void fill() {
        while (inFlight.size() < parallel && nextOffset < size) {
            long off = nextOffset;
            long len = Math.min(chunkBytes, size - off);
            nextOffset += len;
            inFlight.add(CompletableFuture.supplyAsync(() -> fetch(off, len), pool));
        }
    }

    private byte[] fetch(long off, long len) {
        try (InputStream in = store.getRange(key, off, len)) {
            byte[] b = in.readNBytes((int) len);
            if (b.length != len) {
                throw new CorruptObjectException(key, "ends at byte " + (off + b.length) + ", its listing says " + size);
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
        if (failure != null) {
            throw failure;
        }
        while (pos >= current.length) {
            CompletableFuture<byte[]> f = inFlight.poll();
            if (f == null) {
                return false;
            }
            try {
                current = f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new StorageException("interrupted while reading " + key);
                throw new InterruptedIOException("interrupted while reading " + key);
            } catch (ExecutionException e) {
                failure = e.getCause() instanceof RuntimeException r ? r
                        : new StorageException("read " + key + ": " + e.getCause(), e.getCause());
                throw failure;
            }
            pos = 0;
            fill();
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
        inFlight.forEach(f -> f.cancel(true));
        inFlight.clear();
        pool.shutdownNow();
        try {
            pool.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
