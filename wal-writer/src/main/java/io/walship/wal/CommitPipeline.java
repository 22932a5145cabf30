package io.walship.wal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How commits reach the disk: a single writer thread and a single sync thread.
 *
 * <p>Committers hand their work to the <b>writer</b> ({@link #execute}) and park. The writer
 * takes every request queued, applies them one after another under the store's write lock (each
 * is its own commit with its own LSN and WAL entry, {@link #append}ed as it is made), publishes
 * which WAL files it wrote and moves straight on to the next group. The <b>syncer</b> syncs
 * whatever was published — one {@code fdatasync} per file for every commit in it (one file but
 * when the group rolled over to a new cycle), while the writer is already applying the next
 * group — then advances the durable LSN ({@link DurableLsn}: waiters, listeners, the durable
 * point other processes read) and wakes the committers it made durable, in LSN order.
 *
 * <p>Why this shape: the B+tree work needs no lock hand-offs between threads (one thread does
 * it), a durable committer is parked and woken exactly once, and CPU work overlaps the sync. On
 * a 2-core machine a thread-per-committer design spent its time in lock convoys and wake-ups.
 *
 * <p><b>Fail-stop.</b> A sync that fails stops the pipeline for good: the durable LSN stays where
 * the last successful sync left it, no committer of the failed group or of any later one is
 * acknowledged, and every later request fails with the same {@link StoreFailedException}. After a
 * failed {@code fdatasync} the kernel may already have marked the unwritten pages clean, so a
 * retry could succeed without the data on disk (PostgreSQL's "fsyncgate"); only recovery from the
 * WAL, after reopening, is trustworthy. The same holds when an append breaks half-way in
 * Chronicle. Thread-safe; {@link #append} only on the writer thread.
 */
final class CommitPipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CommitPipeline.class);

    /** A commit's work, run on the writer thread under the write lock; returns its LSN. */
    @FunctionalInterface
    interface Work {
        long run();
    }

    private static final int PENDING = 0;
    private static final int APPLIED = 1;
    private static final int COMPLETE = 2;
    private static final int MAX_GROUP = 1024;
    private static final long MAX_HOLD_NANOS = 300_000;

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

    private final WalLog wal;
    private final WalSeams seams;
    private final WalLog.End walEnd;
    private final Lock writeLock;
    private final Runnable afterGroup;
    private final long flushIntervalNanos;
    private final DurableLsn durability;
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
    private volatile StoreFailedException failure;
    private volatile long appendedLsn;
    private volatile long syncs;
    private volatile long bytesAppended;
    private volatile long entriesAppended;

    // guarded by this: the files the writer published for the syncer, and the LSN they reach
    private final Map<Path, WalAppender.Target> published = new TreeMap<>();
    private long publishedLsn;
    // writer thread only
    private WalAppender appender;
    private long lastAppendedByWriter;
    // syncer thread only
    private final WalFileSyncer files;

    /**
     * @param walEnd where recovery found the WAL to end (its file is already durable in the
     *               directory); null if unknown
     */
    CommitPipeline(WalLog wal, Lock writeLock, long lastLsn, long flushIntervalMillis, Runnable afterGroup,
                   WalSeams seams, WalLog.End walEnd, DurablePoint point) {
        this.wal = wal;
        this.seams = seams;
        this.walEnd = walEnd;
        this.writeLock = writeLock;
        this.afterGroup = afterGroup;
        this.flushIntervalNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(1, flushIntervalMillis));
        this.durability = new DurableLsn(lastLsn, point);
        this.appendedLsn = lastLsn;
        this.publishedLsn = lastLsn;
        this.lastAppendedByWriter = lastLsn;
        this.files = new WalFileSyncer(wal, seams.sync(), walEnd == null ? null : walEnd.file());
        this.writer = new Thread(this::writerLoop, "walship-writer");
        this.syncer = new Thread(this::syncerLoop, "walship-syncer");
        writer.setDaemon(true);
        syncer.setDaemon(true);
        writer.start();
        syncer.start();
    }

    long durableLsn() {
        return durability.get();
    }

    DurableLsn durable() {
        return durability;
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

    /** The failure that stopped the pipeline, or null while it runs. */
    StoreFailedException failure() {
        return failure;
    }

    boolean isWriterThread() {
        return Thread.currentThread() == writer;
    }

    void checkHealthy() {
        StoreFailedException f = failure;
        if (f != null) {
            throw new StoreFailedException(f.getMessage(), f.getCause());
        }
        if (closing) {
            throw new WalshipException("the store is closed");
        }
    }

    /**
     * Runs {@code work} as one commit on the writer thread and returns its LSN once it is applied
     * and, if {@code durable}, synced. Exceptions thrown by the work are rethrown here.
     *
     * @throws StoreFailedException if the store stopped before the commit was acknowledged
     */
    long execute(Work work, boolean durable) {
        checkHealthy();
        Request r = new Request(work, durable, Thread.currentThread());
        requests.add(r);
        if (writerIdle) {
            LockSupport.unpark(writer);
        }
        while (r.phase != COMPLETE) {
            if (failure != null) {
                if (r.phase == APPLIED && r.error == null && r.lsn <= durability.get()) {
                    return r.lsn; // synced before the failure; only its wake-up was still due
                }
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

    /**
     * Appends an encoded entry to the WAL. Writer thread only, in LSN order.
     *
     * @throws StorageFullException if there is no disk space: nothing was written, the caller
     *                              rolls the commit back and the pipeline goes on
     * @throws StoreFailedException if the append broke half-way: the pipeline has stopped
     */
    void append(long lsn, byte[] entry) {
        if (!isWriterThread()) {
            throw new IllegalStateException("WAL append outside the writer thread");
        }
        checkHealthy();
        try {
            appender.append(entry);
        } catch (WalAppender.BrokenAppend e) {
            StoreFailedException f = new StoreFailedException("appending LSN " + Lsn.format(lsn) + " to the WAL failed"
                    + " half-way (" + e.getMessage() + "); the store has stopped (nothing from LSN " + Lsn.format(lsn)
                    + " on is acknowledged); reopen it to recover", e.getCause() == null ? e : e.getCause());
            fail(f);
            throw f;
        }
        lastAppendedByWriter = lsn;
        bytesAppended += entry.length;
        entriesAppended++;
    }

    /** Asks for a sync up to {@code lsn} without waiting for it. */
    void requestSync(long lsn) {
        if (durability.get() >= lsn) {
            return;
        }
        if (isWriterThread()) {
            publish();
        }
        syncRequestedUpTo.accumulateAndGet(lsn, Math::max);
        LockSupport.unpark(syncer);
    }

    /** Blocks until the WAL is synced up to {@code lsn} (checkpoints, evictions). */
    void awaitDurable(long lsn) {
        if (durability.get() >= lsn) {
            return;
        }
        requestSync(lsn);
        while (!durability.await(lsn, TimeUnit.MILLISECONDS.toNanos(100))) {
            checkHealthy();
            if (!syncer.isAlive()) {
                throw new WalshipException("the WAL syncer has stopped before LSN " + Lsn.format(lsn) + " was synced");
            }
        }
    }

    /** Stops the pipeline for good (a failure found outside it, e.g. while applying a logged entry). */
    void failStop(StoreFailedException f) {
        fail(f);
    }

    // ---- writer -----------------------------------------------------------------------------

    private void writerLoop() {
        List<Request> group = new ArrayList<>();
        try (WalAppender a = new WalAppender(wal, seams.space().get(), walEnd)) {
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
            fail(t instanceof StoreFailedException f ? f
                    : new StoreFailedException("the WAL writer failed (" + t + "); the store has stopped; reopen it to"
                    + " recover", t));
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
                StoreFailedException f = failure;
                if (f != null) {
                    r.error = new StoreFailedException(f.getMessage(), f.getCause());
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
            if (r.durable && r.error == null && r.lsn > durability.get()) {
                r.phase = APPLIED;
                syncWaiters.add(r);
            } else {
                r.phase = COMPLETE;
                LockSupport.unpark(r.waiter);
            }
        }
        LockSupport.unpark(syncer);
        if (afterGroup != null && failure == null) {
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
        List<WalAppender.Target> targets = appender.drain();
        if (targets.isEmpty()) {
            return;
        }
        synchronized (this) {
            for (WalAppender.Target t : targets) {
                published.merge(t.file(), t, WalAppender.Target::merge);
            }
            publishedLsn = lastAppendedByWriter;
        }
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
                List<WalAppender.Target> targets;
                boolean due = syncRequestedUpTo.get() > durability.get() || closing
                        || System.nanoTime() - lastSync >= flushIntervalNanos;
                synchronized (this) {
                    target = publishedLsn;
                    if (target > durability.get() && due) {
                        targets = new ArrayList<>(published.values()); // file names sort in cycle order
                        published.clear();
                    } else {
                        targets = null;
                    }
                }
                if (targets != null) {
                    if (!syncAll(targets, target)) {
                        return;
                    }
                    syncs++;
                    durability.advance(target);
                    lastSync = System.nanoTime();
                    continue;
                }
                if (writerDone && closing && target <= durability.get() || failure != null) {
                    return;
                }
                long wait = appendedLsn > durability.get() ? flushIntervalNanos - (System.nanoTime() - lastSync)
                        : 100_000_000L;
                if (syncRequestedUpTo.get() <= durability.get() || publishedLsn <= durability.get()) {
                    LockSupport.parkNanos(this, Math.max(1, wait));
                }
            }
        } catch (Throwable t) {
            fail(new StoreFailedException("the WAL syncer failed (" + t + "); nothing after LSN "
                    + Lsn.format(durability.get()) + " is acknowledged; the store has stopped; reopen it to recover", t));
        } finally {
            files.close();
        }
    }

    /** Syncs every file of one group; on the first failure stops the pipeline and returns false. */
    private boolean syncAll(List<WalAppender.Target> targets, long target) {
        try {
            files.sync(targets);
            return true;
        } catch (IOException | RuntimeException e) {
            long d = durability.get();
            fail(new StoreFailedException("WAL " + e.getMessage() + "; LSNs " + Lsn.format(d + 1) + ".."
                    + Lsn.format(target) + " were not acknowledged and never will be; the store has stopped (fail-stop,"
                    + " durable LSN stays " + Lsn.format(d) + "); reopen it to recover", e));
            return false;
        }
    }

    /**
     * While the writer is applying commits that are already queued, a sync would cover only part
     * of them; wait for it (briefly) so one sync serves the whole group.
     */
    private void holdForTheWriter() {
        long deadline = System.nanoTime() + MAX_HOLD_NANOS;
        while ((writerBusy || !requests.isEmpty()) && !closing && failure == null && System.nanoTime() < deadline) {
            LockSupport.parkNanos(this, 10_000);
        }
    }

    private void completeWaiters() {
        long d = durability.get();
        Request r;
        while ((r = syncWaiters.peek()) != null && r.lsn <= d) {
            syncWaiters.poll();
            r.phase = COMPLETE;
            LockSupport.unpark(r.waiter);
        }
    }

    private void fail(StoreFailedException f) {
        synchronized (this) {
            if (failure == null) {
                failure = f;
                LOG.error("{}", f.getMessage(), f.getCause());
            }
        }
        durability.fail(failure);
        for (Request r : syncWaiters) {
            LockSupport.unpark(r.waiter);
        }
        for (Request r : requests) {
            LockSupport.unpark(r.waiter);
        }
        LockSupport.unpark(syncer);
    }

    /** Both threads have ended (after {@link #close}, unless a sync hung past its wait). */
    boolean stopped() {
        return !writer.isAlive() && !syncer.isAlive();
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
        durability.close();
    }
}
