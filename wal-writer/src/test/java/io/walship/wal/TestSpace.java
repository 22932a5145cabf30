package io.walship.wal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A {@link WalSpace} for tests: the real one, unless told to answer "no space". One instance can
 * serve several opens of a store (closing it only drops its file handles). Thread-safe flags.
 */
final class TestSpace implements WalSpace {
    volatile boolean full;
    final AtomicInteger refusals = new AtomicInteger();
    private final Preallocator real = new Preallocator();

    @Override
    public synchronized void reserve(Path file, long from, long to) throws IOException {
        if (full) {
            refusals.incrementAndGet();
            throw new IOException("No space left on device (injected)");
        }
        real.reserve(file, from, to);
    }

    @Override
    public synchronized void release(Path file) {
        real.release(file);
    }

    @Override
    public synchronized void close() {
        real.close();
    }
}
