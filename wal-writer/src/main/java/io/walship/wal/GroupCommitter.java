package io.walship.wal;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * The one thread that appends to the WAL. Committers hand it encoded entries in LSN order
 * ({@link #submit}, under the store's write lock) and wait ({@link #awaitDurable}); the thread
 * drains everything queued, appends it, and issues one msync for the whole group before waking
 * the waiters. Entries that asked for no durability are synced at the next durable commit or
 * after {@code flushIntervalMillis}.
 *
 * <p>After the first I/O failure every later submit and wait fails: the in-memory store is ahead
 * of its log and must be reopened. Thread-safe.
 */
final class GroupCommitter implements AutoCloseable {
    private record Pending(long lsn, byte[] bytes) {
    }

    private final WalLog wal;
    private final long flushIntervalNanos;
    private long lastSyncNanos = System.nanoTime();
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final Condition progress = lock.newCondition();
    // guarded by lock
    private List<Pending> queue = new ArrayList<>();
    private long syncRequestedUpTo;
    private boolean closing;
    // written by the WAL thread only
    private volatile long appendedLsn;
    private volatile long durableLsn;
    private volatile Throwable failure;
    private volatile long syncs;
    private volatile long bytesAppended;
    private volatile long entriesAppended;
    private final Map<BytesStore<?, ?>, Long> unsynced = new IdentityHashMap<>();

    GroupCommitter(WalLog wal, long lastLsn, long flushIntervalMillis) {
        this.wal = wal;
        this.flushIntervalNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, flushIntervalMillis));
        this.appendedLsn = lastLsn;
        this.durableLsn = lastLsn;
        this.thread = new Thread(this::run, "walship-wal-writer");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    long durableLsn() {
        return durableLsn;
    }

    long syncs() {
        return syncs;
    }

    long bytesAppended() {
        return bytesAppended;
    }

    long entriesAppended() {
        return entriesAppended;
    }

    void checkHealthy() {
        Throwable f = failure;
        if (f != null) {
            throw new WalshipException("the WAL writer failed earlier (" + f.getMessage()
                    + "); reopen the store to recover", f);
        }
        if (closing) {
            throw new WalshipException("the store is closed");
        }
    }

    void submit(long lsn, byte[] entry, boolean durable) {
        lock.lock();
        try {
            checkHealthy();
            queue.add(new Pending(lsn, entry));
            if (durable && lsn > syncRequestedUpTo) {
                syncRequestedUpTo = lsn;
            }
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Blocks until the WAL is synced at least up to {@code lsn}. */
    void awaitDurable(long lsn) {
        if (durableLsn >= lsn) {
            return;
        }
        lock.lock();
        try {
            if (lsn > syncRequestedUpTo) {
                syncRequestedUpTo = lsn;
                work.signal();
            }
            while (durableLsn < lsn) {
                if (failure != null) {
                    checkHealthy();
                }
                if (!thread.isAlive()) {
                    throw new WalshipException("the WAL writer has stopped before LSN " + Lsn.format(lsn) + " was synced");
                }
                progress.await(100, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WalshipException("interrupted while waiting for LSN " + Lsn.format(lsn) + " to be synced");
        } finally {
            lock.unlock();
        }
    }

    private void run() {
        List<Pending> spare = new ArrayList<>();
        try (ExcerptAppender appender = wal.queue().createAppender()) {
            while (true) {
                List<Pending> batch;
                boolean sync;
                lock.lock();
                try {
                    while (queue.isEmpty() && syncRequestedUpTo <= durableLsn && !closing) {
                        if (appendedLsn > durableLsn) {
                            long wait = lastSyncNanos + flushIntervalNanos - System.nanoTime();
                            if (wait <= 0) {
                                break; // periodic flush of non-durable commits
                            }
                            work.awaitNanos(wait);
                        } else {
                            work.await();
                        }
                    }
                    if (closing && queue.isEmpty() && appendedLsn == durableLsn) {
                        return;
                    }
                    batch = queue;
                    queue = spare;
                    sync = syncRequestedUpTo > durableLsn || closing
                            || System.nanoTime() - lastSyncNanos >= flushIntervalNanos;
                } finally {
                    lock.unlock();
                }
                for (Pending p : batch) {
                    append(appender, p);
                }
                batch.clear();
                spare = batch;
                if (sync) {
                    syncAppended();
                }
                lock.lock();
                try {
                    progress.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        } catch (Throwable t) {
            failure = t;
            lock.lock();
            try {
                progress.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private void append(ExcerptAppender appender, Pending p) {
        BytesStore<?, ?> store;
        long end;
        try (DocumentContext dc = appender.writingDocument()) {
            Bytes<?> bytes = dc.wire().bytes();
            bytes.write(p.bytes());
            store = bytes.bytesStore();
            end = bytes.writePosition();
        }
        // A group can span two mapped chunks or two cycle files: remember each store to sync.
        unsynced.merge(store, end, Math::max);
        appendedLsn = p.lsn();
        bytesAppended += p.bytes().length;
        entriesAppended++;
    }

    private void syncAppended() {
        lastSyncNanos = System.nanoTime();
        if (unsynced.isEmpty()) {
            durableLsn = appendedLsn;
            return;
        }
        long target = appendedLsn;
        for (Map.Entry<BytesStore<?, ?>, Long> e : unsynced.entrySet()) {
            if (e.getKey() instanceof MappedBytesStore mbs) {
                mbs.syncUpTo(e.getValue(), SyncMode.SYNC);
            } else {
                throw new IllegalStateException("WAL store is not memory-mapped: " + e.getKey().getClass());
            }
        }
        unsynced.clear();
        syncs++;
        durableLsn = target;
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closing = true;
            work.signal();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
