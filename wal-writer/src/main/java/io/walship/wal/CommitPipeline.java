package io.walship.wal;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.BytesStore;
import net.openhft.chronicle.bytes.MappedBytesStore;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.core.io.ReferenceOwner;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * How commits reach the disk: a single writer thread and a single sync thread.
 *
 * <p>Committers hand their work to the <b>writer</b> ({@link #execute}) and park. The writer
 * takes every request queued, applies them one after another under the store's write lock (each
 * is its own commit with its own LSN and WAL entry, {@link #append}ed as it is made), publishes
 * what it appended and moves straight on to the next group. The <b>syncer</b> msyncs whatever
 * was published — one msync for every commit in it, while the writer is already applying the
 * next group — and then wakes the committers it made durable, in LSN order.
 *
 * <p>Why this shape: the B+tree work needs no lock hand-offs between threads (one thread does
 * it), a durable committer is parked and woken exactly once, and CPU work overlaps the sync. On
 * a 2-core machine a thread-per-committer design spent its time in lock convoys and wake-ups.
 *
 * <p>After the first I/O failure every later request fails: the in-memory store is ahead of its
 * log and must be reopened (Ratis' rule). Thread-safe; {@link #append} only on the writer thread.
 */
final class CommitPipeline implements AutoCloseable {
    /** A commit's work, run on the writer thread under the write lock; returns its LSN. */
    @FunctionalInterface
    interface Work {
        long run();
    }

    private static final int PENDING = 0;
    private static final int APPLIED = 1;
    private static final int COMPLETE = 2;
    private static final int MAX_GROUP = 1024;

    private static final class Request {
        final Work work;
        final boolean durable;
        final Thread waiter;
        volatile int phase = PENDING;
        long lsn;
        RuntimeException error;

        Request(Work work, boolean durable, Thread waiter) {
            this.work = work;
            this.durable = durable;
            this.waiter = waiter;
        }
    }

    /** A mapped region appended to since the last msync, reserved until the syncer is done with it. */
    private record SyncTarget(MappedBytesStore store, long end, ReferenceOwner owner) {
    }

    private final WalLog wal;
    private final Lock writeLock;
    private final Runnable afterGroup;
    private final long flushIntervalNanos;
    private final Thread writer;
    private final Thread syncer;
    private final ConcurrentLinkedQueue<Request> requests = new ConcurrentLinkedQueue<>();
    /** Durable requests applied but not yet synced, in LSN order (writer adds, syncer removes). */
    private final ConcurrentLinkedQueue<Request> syncWaiters = new ConcurrentLinkedQueue<>();
    private final AtomicLong syncRequestedUpTo = new AtomicLong();
    private volatile boolean writerIdle;
    /** The writer is applying a group (or has more queued): a sync now would split it. */
    private volatile boolean writerBusy;
    private volatile boolean closing;
    private volatile boolean writerDone;
    private volatile Throwable failure;
    private volatile long appendedLsn;
    private volatile long durableLsn;
    private volatile long syncs;
    private volatile long bytesAppended;
    private volatile long entriesAppended;

    // guarded by this: what the writer published for the syncer
    private final Map<BytesStore<?, ?>, SyncTarget> published = new IdentityHashMap<>();
    private long publishedLsn;
    // writer thread only
    private ExcerptAppender appender;
    private final Map<BytesStore<?, ?>, Long> unpublished = new IdentityHashMap<>();
    private long lastAppendedByWriter;

    CommitPipeline(WalLog wal, Lock writeLock, long lastLsn, long flushIntervalMillis, Runnable afterGroup) {
        this.wal = wal;
        this.writeLock = writeLock;
        this.afterGroup = afterGroup;
        this.flushIntervalNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, flushIntervalMillis));
        this.appendedLsn = lastLsn;
        this.durableLsn = lastLsn;
        this.publishedLsn = lastLsn;
        this.lastAppendedByWriter = lastLsn;
        this.writer = new Thread(this::writerLoop, "walship-writer");
        this.syncer = new Thread(this::syncerLoop, "walship-syncer");
        writer.setDaemon(true);
        syncer.setDaemon(true);
        writer.start();
        syncer.start();
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

    boolean isWriterThread() {
        return Thread.currentThread() == writer;
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
     * Runs {@code work} as one commit on the writer thread and returns its LSN once it is applied
     * and, if {@code durable}, synced. Exceptions thrown by the work are rethrown here.
     */
    long execute(Work work, boolean durable) {
        checkHealthy();
        Request r = new Request(work, durable, Thread.currentThread());
        requests.add(r);
        if (writerIdle) {
            LockSupport.unpark(writer);
        }
        while (r.phase != COMPLETE) {
            if (failure != null && r.phase == PENDING) {
                checkHealthy();
            }
            if (!writer.isAlive() && r.phase == PENDING || !syncer.isAlive() && r.phase != COMPLETE) {
                checkHealthy();
                throw new WalshipException("the store's writer has stopped");
            }
            LockSupport.parkNanos(this, 50_000_000L);
        }
        if (r.error != null) {
            throw r.error;
        }
        return r.lsn;
    }

    /** Appends an encoded entry to the WAL. Writer thread only, in LSN order. */
    void append(long lsn, byte[] entry) {
        if (!isWriterThread()) {
            throw new IllegalStateException("WAL append outside the writer thread");
        }
        BytesStore<?, ?> store;
        long end;
        try (DocumentContext dc = appender.writingDocument()) {
            Bytes<?> bytes = dc.wire().bytes();
            bytes.write(entry);
            store = bytes.bytesStore();
            end = bytes.writePosition();
        }
        // A group can span two mapped chunks or two cycle files: each is synced.
        unpublished.merge(store, end, Math::max);
        lastAppendedByWriter = lsn;
        bytesAppended += entry.length;
        entriesAppended++;
    }

    /** Blocks until the WAL is synced up to {@code lsn} (checkpoints, evictions). */
    void awaitDurable(long lsn) {
        if (durableLsn >= lsn) {
            return;
        }
        if (isWriterThread()) {
            publish();
        }
        syncRequestedUpTo.accumulateAndGet(lsn, Math::max);
        LockSupport.unpark(syncer);
        long park = 20_000;
        while (durableLsn < lsn) {
            checkHealthy();
            if (!syncer.isAlive()) {
                throw new WalshipException("the WAL syncer has stopped before LSN " + Lsn.format(lsn) + " was synced");
            }
            LockSupport.parkNanos(this, park);
            park = Math.min(park * 2, 2_000_000);
        }
    }

    // ---- writer -----------------------------------------------------------------------------

    private void writerLoop() {
        List<Request> group = new ArrayList<>();
        try (ExcerptAppender a = wal.queue().createAppender()) {
            appender = a;
            while (true) {
                Request r = requests.poll();
                if (r == null) {
                    if (closing) {
                        return;
                    }
                    writerIdle = true;
                    if (requests.isEmpty() && !closing) {
                        LockSupport.parkNanos(this, 100_000_000L);
                    }
                    writerIdle = false;
                    continue;
                }
                writerBusy = true;
                group.add(r);
                while (group.size() < MAX_GROUP && (r = requests.poll()) != null) {
                    group.add(r);
                }
                runGroup(group);
                group.clear();
                writerBusy = !requests.isEmpty();
            }
        } catch (Throwable t) {
            fail(t);
        } finally {
            writerDone = true;
            LockSupport.unpark(syncer);
        }
    }

    private void runGroup(List<Request> group) {
        boolean anyDurable = false;
        writeLock.lock();
        try {
            for (Request r : group) {
                if (failure != null) {
                    r.error = new WalshipException("the WAL writer failed earlier (" + failure.getMessage()
                            + "); reopen the store to recover", failure);
                    continue;
                }
                try {
                    r.lsn = r.work.run();
                    anyDurable |= r.durable;
                } catch (RuntimeException e) {
                    r.error = e;
                }
            }
        } finally {
            writeLock.unlock();
        }
        publish();
        if (anyDurable) {
            syncRequestedUpTo.accumulateAndGet(lastAppendedByWriter, Math::max);
        }
        for (Request r : group) {
            if (r.durable && r.error == null && r.lsn > durableLsn) {
                r.phase = APPLIED;
                syncWaiters.add(r);
            } else {
                r.phase = COMPLETE;
                LockSupport.unpark(r.waiter);
            }
        }
        LockSupport.unpark(syncer);
        if (afterGroup != null) {
            writeLock.lock();
            try {
                afterGroup.run();
            } finally {
                writeLock.unlock();
            }
        }
    }

    /** Hands what the writer appended to the syncer. */
    private void publish() {
        if (unpublished.isEmpty()) {
            return;
        }
        synchronized (this) {
            for (Map.Entry<BytesStore<?, ?>, Long> e : unpublished.entrySet()) {
                SyncTarget t = published.get(e.getKey());
                if (t == null) {
                    if (!(e.getKey() instanceof MappedBytesStore mbs)) {
                        throw new IllegalStateException("WAL store is not memory-mapped: " + e.getKey().getClass());
                    }
                    ReferenceOwner owner = ReferenceOwner.temporary("walship-sync");
                    mbs.reserve(owner); // keep the mapping alive until the syncer has msynced it
                    published.put(mbs, new SyncTarget(mbs, e.getValue(), owner));
                } else {
                    published.put(e.getKey(), new SyncTarget(t.store(), Math.max(t.end(), e.getValue()), t.owner()));
                }
            }
            publishedLsn = lastAppendedByWriter;
        }
        unpublished.clear();
        appendedLsn = lastAppendedByWriter;
    }

    // ---- syncer -----------------------------------------------------------------------------

    private void syncerLoop() {
        long lastSync = System.nanoTime();
        try {
            while (true) {
                completeWaiters();
                holdForTheWriter();
                long target;
                List<SyncTarget> targets;
                boolean due = syncRequestedUpTo.get() > durableLsn || closing
                        || System.nanoTime() - lastSync >= flushIntervalNanos;
                synchronized (this) {
                    target = publishedLsn;
                    if (target > durableLsn && due) {
                        targets = new ArrayList<>(published.values());
                        published.clear();
                    } else {
                        targets = null;
                    }
                }
                if (targets != null) {
                    for (SyncTarget t : targets) {
                        try {
                            t.store().syncUpTo(t.end(), SyncMode.SYNC);
                        } finally {
                            t.store().release(t.owner());
                        }
                    }
                    syncs++;
                    durableLsn = target;
                    lastSync = System.nanoTime();
                    continue;
                }
                if (writerDone && closing && target <= durableLsn) {
                    return;
                }
                if (failure != null) {
                    return;
                }
                long wait = appendedLsn > durableLsn ? flushIntervalNanos - (System.nanoTime() - lastSync) : 100_000_000L;
                if (syncRequestedUpTo.get() <= durableLsn || publishedLsn <= durableLsn) {
                    LockSupport.parkNanos(this, Math.max(1, wait));
                }
            }
        } catch (Throwable t) {
            fail(t);
        }
    }

    /**
     * While the writer is applying commits that are already queued, a sync would cover only part
     * of them; wait for it (briefly) so one msync serves the whole group.
     */
    private void holdForTheWriter() {
        long deadline = System.nanoTime() + MAX_HOLD_NANOS;
        while ((writerBusy || !requests.isEmpty()) && !closing && failure == null && System.nanoTime() < deadline) {
            LockSupport.parkNanos(this, 10_000);
        }
    }

    private static final long MAX_HOLD_NANOS = 300_000;

    private void completeWaiters() {
        long durable = durableLsn;
        Request r;
        while ((r = syncWaiters.peek()) != null && r.lsn <= durable) {
            syncWaiters.poll();
            r.phase = COMPLETE;
            LockSupport.unpark(r.waiter);
        }
    }

    private void fail(Throwable t) {
        if (failure == null) {
            failure = t;
        }
        for (Request r : syncWaiters) {
            LockSupport.unpark(r.waiter);
        }
        for (Request r : requests) {
            LockSupport.unpark(r.waiter);
        }
    }

    /** Finishes queued work, syncs everything appended, and stops both threads. */
    @Override
    public void close() {
        closing = true;
        LockSupport.unpark(writer);
        LockSupport.unpark(syncer);
        try {
            writer.join(30_000);
            syncer.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
