package io.walship.wal;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

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
 * exactly the waiters it made durable. Entries that asked for no durability are synced at the
 * next durable commit or after {@code flushIntervalMillis}.
 *
 * <p>Hand-offs use park/unpark rather than a shared lock and condition, so that waking a group of
 * committers does not make them queue for one lock (a convoy that halves throughput on 2 cores).
 *
 * <p>After the first I/O failure every later submit and wait fails: the in-memory store is ahead
 * of its log and must be reopened. Thread-safe.
 */
final class GroupCommitter implements AutoCloseable {
    private record Pending(long lsn, byte[] bytes) {
    }

    private record Waiter(long lsn, Thread thread) {
    }

    private final WalLog wal;
    private final long flushIntervalNanos;
    /** Committers between entering a commit and handing over their entry (see {@link #entering}). */
    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private final long maxGroupWaitNanos;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final AtomicLong syncRequestedUpTo = new AtomicLong();
    private volatile boolean closing;
    private volatile long appendedLsn;
    private volatile long durableLsn;
    private volatile Throwable failure;
    private volatile long syncs;
    private volatile long bytesAppended;
    private volatile long entriesAppended;
    // WAL thread only
    private long lastSyncNanos = System.nanoTime();
    private final Map<BytesStore<?, ?>, Long> unsynced = new IdentityHashMap<>();

    GroupCommitter(WalLog wal, long lastLsn, long flushIntervalMillis) {
        this.wal = wal;
        this.flushIntervalNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, flushIntervalMillis));
        this.maxGroupWaitNanos = Long.getLong("walship.groupCommitWaitMicros", 200) * 1_000L;
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

    /**
     * A committer is about to commit: the WAL thread may hold a sync back briefly (at most
     * {@code walship.groupCommitWaitMicros}, 200 µs) for its entry, so that one sync serves the
     * whole group rather than half of it (PostgreSQL's commit_delay, made adaptive). Every call
     * must be matched by {@link #left}.
     */
    void entering() {
        inFlight.incrementAndGet();
    }

    void left() {
        if (inFlight.decrementAndGet() == 0 && state == GATHERING) {
            LockSupport.unpark(thread);
        }
    }

    private static final int BUSY = 0;
    private static final int IDLE = 1;
    private static final int GATHERING = 2;
    /** What the WAL thread is parked for, so that committers wake it only when it helps. */
    private volatile int state = BUSY;

    /** Queues an entry; called in LSN order (under the store's write lock). */
    void submit(long lsn, byte[] entry, boolean durable) {
        checkHealthy();
        if (durable) {
            syncRequestedUpTo.accumulateAndGet(lsn, Math::max); // before the entry becomes visible
        }
        queue.add(new Pending(lsn, entry));
        if (state == IDLE) {
            LockSupport.unpark(thread);
        }
    }

    /** Blocks until the WAL is synced at least up to {@code lsn}. */
    void awaitDurable(long lsn) {
        if (durableLsn >= lsn) {
            return;
        }
        if (syncRequestedUpTo.get() < lsn) {
            syncRequestedUpTo.accumulateAndGet(lsn, Math::max);
            LockSupport.unpark(thread);
        }
        Waiter me = new Waiter(lsn, Thread.currentThread());
        waiters.add(me);
        try {
            while (durableLsn < lsn) {
                if (failure != null) {
                    checkHealthy();
                }
                if (!thread.isAlive()) {
                    throw new WalshipException("the WAL writer has stopped before LSN " + Lsn.format(lsn) + " was synced");
                }
                LockSupport.parkNanos(this, 50_000_000L);
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    throw new WalshipException("interrupted while waiting for LSN " + Lsn.format(lsn) + " to be synced");
                }
            }
        } finally {
            waiters.remove(me);
        }
    }

    private void run() {
        List<Pending> batch = new ArrayList<>();
        try (ExcerptAppender appender = wal.queue().createAppender()) {
            while (true) {
                Pending p;
                while ((p = queue.poll()) != null) {
                    batch.add(p);
                }
                for (Pending e : batch) {
                    append(appender, e);
                }
                batch.clear();
                boolean unsyncedData = appendedLsn > durableLsn;
                long sinceSync = System.nanoTime() - lastSyncNanos;
                if (unsyncedData && (syncRequestedUpTo.get() > durableLsn || closing || sinceSync >= flushIntervalNanos)) {
                    gatherGroup(appender);
                    syncAppended();
                    wakeWaiters();
                    continue;
                }
                if (!queue.isEmpty()) {
                    continue;
                }
                if (closing && !unsyncedData) {
                    return;
                }
                state = IDLE;
                if (queue.isEmpty() && syncRequestedUpTo.get() <= durableLsn && !closing) {
                    LockSupport.parkNanos(this, unsyncedData ? flushIntervalNanos - sinceSync : 100_000_000L);
                }
                state = BUSY;
            }
        } catch (Throwable t) {
            failure = t;
            for (Waiter w : waiters) {
                LockSupport.unpark(w.thread());
            }
        }
    }

    /** Appends entries of committers already under way, waiting for them up to maxGroupWaitNanos. */
    private void gatherGroup(ExcerptAppender appender) {
        long deadline = System.nanoTime() + maxGroupWaitNanos;
        while (true) {
            Pending p;
            while ((p = queue.poll()) != null) {
                append(appender, p);
            }
            long left = deadline - System.nanoTime();
            if (inFlight.get() == 0 || closing || left <= 0) {
                return;
            }
            state = GATHERING;
            if (inFlight.get() != 0) {
                LockSupport.parkNanos(this, left);
            }
            state = BUSY;
        }
    }

    private void wakeWaiters() {
        long durable = durableLsn;
        for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            if (w.lsn() <= durable) {
                LockSupport.unpark(w.thread());
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
        closing = true;
        LockSupport.unpark(thread);
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
