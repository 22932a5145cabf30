package io.walship.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link WalSync} for tests: syncs for real, and counts, records the synced end of each file,
 * can be held (a gate: no sync completes while it is closed) and can be made to fail. Thread-safe.
 */
final class TestSync implements WalSync {
    final AtomicInteger forces = new AtomicInteger();
    final List<Path> directories = new CopyOnWriteArrayList<>();
    /** Per file, the end up to which everything written is known synced ({@link Long#MAX_VALUE}: all of it). */
    final Map<Path, Long> syncedUpTo = new ConcurrentHashMap<>();
    private final ReentrantLock gate = new ReentrantLock();
    private final AtomicLong failAt = new AtomicLong(Long.MAX_VALUE);
    private volatile String failure = "injected EIO: Input/output error";

    @Override
    public void force(Path file, FileChannel channel, long upTo) throws IOException {
        gate.lock();
        try {
            if (forces.incrementAndGet() >= failAt.get()) {
                throw new IOException(failure);
            }
            channel.force(false);
            syncedUpTo.merge(file, upTo, Math::max);
        } finally {
            gate.unlock();
        }
    }

    @Override
    public void forceDirectory(Path dir) throws IOException {
        gate.lock();
        try {
            directories.add(dir);
            AtomicFiles.fsyncDirectory(dir);
        } finally {
            gate.unlock();
        }
    }

    /** Every file sync from the {@code n}-th one on (counting from now) fails. */
    void failFromNext(int n) {
        failAt.set(forces.get() + n);
    }

    void heal() {
        failAt.set(Long.MAX_VALUE);
    }

    /** Holds every sync until {@link #open}; returns once no sync is in progress. */
    void close() {
        gate.lock();
    }

    void open() {
        gate.unlock();
    }

    /** Some sync is waiting at the closed gate. */
    boolean holdsASync() {
        return gate.hasQueuedThreads();
    }

    void openIfClosed() {
        if (gate.isHeldByCurrentThread()) {
            gate.unlock();
        }
    }
}
