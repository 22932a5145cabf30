package io.walship.wal;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.IntFunction;
import java.util.function.Supplier;

/**
 * The open {@link Snapshot}s of a store: what a snapshot reads through, its release, the age
 * check on the checkpointer's tick, and the counters for {@link StoreStats}.
 *
 * <p>Thread-safe. {@code open} is a copy-on-write list: writers iterate it under the store's write
 * lock to hand over before-images ({@link PageTxn}), snapshots remove themselves from any thread.
 * A snapshot's own state is guarded by the store's lock as {@link Snapshot} describes.
 */
final class Snapshots implements Snapshot.Source {
    private final List<Snapshot> open;
    private final ReentrantReadWriteLock rw;
    private final Runnable checkOpen;
    private final IntFunction<byte[]> readPage;
    private final AtomicLong abandoned = new AtomicLong();

    /**
     * @param open     the list writers feed (shared with the store's transactions)
     * @param rw       the store's lock
     * @param checkOpen run under the read lock before every read (throws if the store is closed)
     * @param readPage a page as it is now, for a caller holding the read lock (evicts as it goes)
     */
    Snapshots(List<Snapshot> open, ReentrantReadWriteLock rw, Runnable checkOpen, IntFunction<byte[]> readPage) {
        this.open = open;
        this.rw = rw;
        this.checkOpen = checkOpen;
        this.readPage = readPage;
    }

    /** Registers a new snapshot. Write lock. */
    void add(Snapshot s) {
        open.add(s);
    }

    /** Abandons snapshots open past their age limit (the checkpointer's tick). */
    void checkAges() {
        if (open.isEmpty()) {
            return;
        }
        rw.writeLock().lock();
        try {
            for (Snapshot s : open) {
                s.checkAge();
            }
        } finally {
            rw.writeLock().unlock();
        }
    }

    int openCount() {
        return open.size();
    }

    long preservedBytes() {
        long bytes = 0;
        for (Snapshot s : open) {
            bytes += s.preservedBytes();
        }
        return bytes;
    }

    long abandonedCount() {
        return abandoned.get();
    }

    @Override
    public <T> T underReadLock(Supplier<T> action) {
        rw.readLock().lock();
        try {
            checkOpen.run();
            return action.get();
        } finally {
            rw.readLock().unlock();
        }
    }

    @Override
    public byte[] currentPage(int pageNo) {
        return readPage.apply(pageNo).clone();
    }

    @Override
    public void release(Snapshot snapshot) {
        open.remove(snapshot);
    }

    @Override
    public void abandoned(Snapshot snapshot) {
        if (open.remove(snapshot)) {
            abandoned.incrementAndGet();
        }
    }
}
