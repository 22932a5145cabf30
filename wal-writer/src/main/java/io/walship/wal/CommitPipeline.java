package io.walship.wal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How commits reach the disk: a single writer thread and a single sync thread (or, for a lone
 * committer, its own thread).
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
 * <p><b>The lone committer's fast path.</b> A durable committer that finds no other committer in
 * flight, nothing queued and the writer idle applies its own commit on its own thread ({@link #execute}),
 * under the same {@code appendLock} the writer holds around each group, so appends stay
 * serialised and in LSN order. (With other committers in flight it queues for the writer: a
 * committer applying and syncing alone would split the writer's groups, fewer commits per sync.)
 * It then tries to lead its own sync (PostgreSQL's WAL flush leader, RocksDB's
 * write-group leader): if the {@code syncLock} is free it does one round of what the syncer does
 * (takes what was published, syncs it, advances the durable LSN, wakes the committers the sync
 * covered) and returns without any thread hand-off. If the lock is taken (the syncer or another
 * leader is syncing), it parks as a sync waiter as if the writer had applied it. Async commits
 * always go to the writer, which acknowledges them before it evicts: the eviction after a commit
 * ({@code afterGroup}) may wait for a sync, and a fast-path committer runs it before it returns,
 * so an applied async commit would wait for the disk (as on the writer, a commit queued behind
 * an eviction waits for it either way). The syncer takes the {@code syncLock} around each of its
 * rounds, so syncs never overlap. Committer threads can be interrupted: the channels a sync
 * forces are {@link Uninterruptible}; where they cannot be made so, committers never take the fast path.
 *
 * <p><b>Fail-stop.</b> A sync that fails stops the pipeline for good: the durable LSN stays where
 * the last successful sync left it, no committer of the failed group or of any later one is
 * acknowledged, and every later request fails with the same {@link StoreFailedException}. After a
 * failed {@code fdatasync} the kernel may already have marked the unwritten pages clean, so a
 * retry could succeed without the data on disk (PostgreSQL's "fsyncgate"); only recovery from the
 * WAL, after reopening, is trustworthy. The same holds when an append breaks half-way in
 * Chronicle. Thread-safe; {@link #append} only by the thread holding the append lock (the
 * writer, or a committer applying its own commit).
 */
final class CommitPipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CommitPipeline.class);

    /**
     * A commit's work, run under the write lock and the append lock (on the writer thread, or on
     * the committer's own); returns its LSN.
     */
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
    /**
     * Durable requests applied but not yet synced, in LSN order: added under the append lock (by
     * the writer, or a committer that applied its own commit but could not lead the sync), removed
     * by whoever completed a sync.
     */
    private final ConcurrentLinkedQueue<Request> syncWaiters = new ConcurrentLinkedQueue<>();
    /** Held while appending to the WAL: around each of the writer's groups, or a committer's own commit. */
    private final ReentrantLock appendLock = new ReentrantLock();
    /** Held while syncing: around each round of the syncer, or a committer leading its own sync. */
    private final ReentrantLock syncLock = new ReentrantLock();
    /** Committers may lead their own sync: the synced channels can be made uninterruptible. */
    private final boolean committersLead;
    private final AtomicLong syncRequestedUpTo = new AtomicLong();
    /** Committers inside {@link #execute}: the fast path is for one that is alone. */
    private final AtomicInteger inFlight = new AtomicInteger();
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
    /** When the last sync (the syncer's or a leader's) ended: the flush timer of async commits counts from it. */
    private volatile long lastSyncNanos = System.nanoTime();

    // guarded by this: the files appended to and published for syncing, and the LSN they reach
    private final Map<Path, WalAppender.Target> published = new TreeMap<>();
    private long publishedLsn;
    // guarded by appendLock (volatile: the fast path looks before it locks); null until the writer
    // has opened it and after the writer has closed it
    private volatile WalAppender appender;
    private long lastAppendedByWriter;
    // guarded by syncLock
    private final WalFileSyncer files;
    private boolean filesClosed;

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
        this.committersLead = Uninterruptible.available();
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


    void checkHealthy() {
        StoreFailedException f = failure;
        if (f != null) {
            throw new StoreFailedException(f.getMessage(), f.getCause());
        }
        if (closing) {
            throw new StoreClosedException("the store is closed");
        }
    }

    /**
     * Runs {@code work} as one commit and returns its LSN once it is applied and, if
     * {@code durable}, synced. Exceptions thrown by the work are rethrown here. Runs on this
     * thread when no other committer is in here, nothing is queued and the writer is idle, else
     * on the writer thread.
     *
     * @throws StoreFailedException if the store stopped before the commit was acknowledged
     */
    long execute(Work work, boolean durable) {
        checkHealthy();
        // alone: with other committers in flight the writer's groups share one sync (and one
        // thread applies them); a committer applying and syncing on its own would split them.
        // Only where channels can be made uninterruptible: the fast path claims WAL space and
        // syncs on the caller's thread, and an interrupt would close those channels under it
        boolean alone = inFlight.incrementAndGet() == 1;
        try {
            if (durable && alone && committersLead && requests.isEmpty() && !writerBusy && appender != null && appendLock.tryLock()) {
                WalAppender a = appender;
                if (a != null && !a.opensNewFile()) {
                    return executeHere(work); // releases the append lock
                }
                // the writer has closed the WAL (the queue says why), or this commit would open a
                // new WAL file: Chronicle maps a new file on the appending thread before its channel
                // can be made uninterruptible, and the writer thread is never interrupted
                appendLock.unlock();
            }
            return executeOnWriter(work, durable);
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private long executeOnWriter(Work work, boolean durable) {
        Request r = new Request(work, durable, Thread.currentThread());
        requests.add(r);
        if (writerIdle) {
            LockSupport.unpark(writer);
        }
        // an interrupt would end every park at once: the caller's is set aside until it returns
        boolean interrupted = false;
        try {
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
                interrupted |= Thread.interrupted();
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        if (r.error != null) {
            throw r.error;
        }
        return r.lsn;
    }

    /**
     * The fast path: applies {@code work} on this thread (the append lock is held on entry and
     * released here), then leads its own sync or waits for one. The interrupt status
     * of the caller is cleared meanwhile (and set again afterwards), as on the writer thread,
     * which is never interrupted.
     */
    private long executeHere(Work work) {
        boolean interrupted = Thread.interrupted();
        try {
            Request waiting = null;
            long lsn;
            try {
                lsn = applyHere(work);
                if (lsn <= durability.get()) {
                    return lsn; // a durable no-op: the LSN it returns is already synced
                }
                // still under the append lock: whoever appends next has a later LSN, so a waiter
                // registered now keeps syncWaiters in LSN order
                if (!syncLock.tryLock()) { // committersLead holds here (execute)
                    waiting = new Request(work, true, Thread.currentThread());
                    waiting.lsn = lsn;
                    waiting.phase = APPLIED;
                    syncWaiters.add(waiting);
                }
            } finally {
                appendLock.unlock();
            }
            if (waiting == null) {
                return leadSync(lsn);
            }
            requestSync(lsn);
            return awaitSynced(waiting);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Runs the work as {@link #runGroup} does for one request; append lock held. Returns its LSN. */
    private long applyHere(Work work) {
        long lsn = 0;
        RuntimeException error = null;
        Throwable fatal = null;
        writeLock.lock();
        try {
            StoreFailedException f = failure;
            if (f != null) {
                error = new StoreFailedException(f.getMessage(), f.getCause());
            } else {
                lsn = work.run();
            }
        } catch (RuntimeException e) {
            error = e; // rethrown to this committer only, as runGroup hands it to its request
        } catch (Throwable t) {
            fatal = t;
        } finally {
            writeLock.unlock();
        }
        if (fatal != null) { // as on the writer thread, where it ends the writer: the pipeline stops
            StoreFailedException f = writerFailed(fatal);
            fail(f);
            throw f;
        }
        publish(); // what an applyAll cut short appended is published too, as after a group
        if (afterGroup != null && failure == null) {
            writeLock.lock();
            try {
                afterGroup.run();
            } catch (Throwable t) {
                StoreFailedException f = writerFailed(t);
                fail(f);
                throw f;
            } finally {
                writeLock.unlock();
            }
        }
        if (error != null) {
            throw error;
        }
        return lsn;
    }

    private static StoreFailedException writerFailed(Throwable t) {
        return t instanceof StoreFailedException f ? f
                : new StoreFailedException("the WAL writer failed (" + t + "); the store has stopped; reopen it to"
                + " recover", t);
    }

    /**
     * A committer leads the sync of its own commit (sync lock held on entry, released here): one
     * round of what the syncer does, then wakes the other committers it made durable.
     */
    private long leadSync(long lsn) {
        try {
            syncPublished(); // executeHere has cleared the caller's interrupt until it returns
        } catch (Throwable t) {
            fail(new StoreFailedException("the WAL sync of a committer failed (" + t + "); nothing after LSN "
                    + Lsn.format(durability.get()) + " is acknowledged; the store has stopped; reopen it to recover", t));
        } finally {
            syncLock.unlock();
        }
        completeWaiters();
        if (lsn <= durability.get()) {
            return lsn;
        }
        checkHealthy(); // the sync failed: the pipeline has stopped
        throw new WalshipException("LSN " + Lsn.format(lsn) + " was not synced"); // not reached
    }

    /**
     * Parks until a sync covers {@code r} (registered as a sync waiter), as {@link #execute} does.
     * An interrupt that comes meanwhile is set aside until it returns, as there.
     */
    private long awaitSynced(Request r) {
        boolean interrupted = false;
        try {
            while (r.phase != COMPLETE) {
                if (r.lsn <= durability.get()) {
                    // a leader's sync covered it but woke the waiters before it registered: nobody else may
                    completeWaiters();
                    return r.lsn;
                }
                if (failure != null) {
                    checkHealthy(); // not covered above: it never will be
                }
                if (!syncer.isAlive()) {
                    checkHealthy();
                    throw new WalshipException("the store's WAL syncer has stopped");
                }
                LockSupport.parkNanos(this, 50_000_000L);
                interrupted |= Thread.interrupted();
            }
            return r.lsn;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Appends an encoded entry to the WAL. Only by the thread holding the append lock (the writer,
     * or a committer applying its own commit), in LSN order.
     *
     * @throws StorageFullException if there is no disk space: nothing was written, the caller
     *                              rolls the commit back and the pipeline goes on
     * @throws StoreFailedException if the append broke half-way: the pipeline has stopped
     */
    void append(long lsn, byte[] entry) {
        if (!appendLock.isHeldByCurrentThread()) {
            throw new IllegalStateException("WAL append without the append lock (outside a commit's work)");
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
        if (appendLock.isHeldByCurrentThread()) {
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
        WalAppender a = null;
        try {
            appendLock.lock();
            try {
                a = new WalAppender(wal, seams.space().get(), walEnd);
                appender = a;
            } finally {
                appendLock.unlock();
            }
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
                appendLock.lock();
                try {
                    runGroup(group);
                } finally {
                    appendLock.unlock();
                }
                group.clear();
                writerBusy = !requests.isEmpty();
            }
        } catch (Throwable t) {
            fail(writerFailed(t));
        } finally {
            closeAppender(a);
            writerDone = true;
            LockSupport.unpark(syncer);
        }
    }

    /** Under the append lock, so that no committer is inside the appender while it closes. */
    private void closeAppender(WalAppender a) {
        appendLock.lock();
        try {
            appender = null;
            if (a != null) {
                a.close();
            }
        } catch (Throwable t) {
            fail(writerFailed(t));
        } finally {
            appendLock.unlock();
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

    /** Hands what was appended to whoever syncs next (the syncer, or a committer leading). Append lock held. */
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
        try {
            while (true) {
                completeWaiters();
                holdForTheWriter();
                boolean due = syncRequestedUpTo.get() > durability.get() || closing
                        || System.nanoTime() - lastSyncNanos >= flushIntervalNanos;
                int round = 0;
                if (due) {
                    syncLock.lock(); // a committer leading its own sync holds it meanwhile
                    try {
                        round = syncPublished();
                    } finally {
                        syncLock.unlock();
                    }
                }
                if (round < 0) {
                    return;
                }
                if (round > 0) {
                    continue;
                }
                long target;
                synchronized (this) {
                    target = publishedLsn;
                }
                if (writerDone && closing && target <= durability.get() || failure != null) {
                    return;
                }
                long wait = appendedLsn > durability.get() ? flushIntervalNanos - (System.nanoTime() - lastSyncNanos)
                        : 100_000_000L;
                if (syncRequestedUpTo.get() <= durability.get() || target <= durability.get()) {
                    LockSupport.parkNanos(this, Math.max(1, wait));
                }
            }
        } catch (Throwable t) {
            fail(new StoreFailedException("the WAL syncer failed (" + t + "); nothing after LSN "
                    + Lsn.format(durability.get()) + " is acknowledged; the store has stopped; reopen it to recover", t));
        } finally {
            syncLock.lock(); // a leading committer may still be syncing: the files are closed after it
            try {
                filesClosed = true;
                files.close();
            } finally {
                syncLock.unlock();
            }
            completeWaiters(); // a leader's last sync may have covered waiters nobody woke yet
        }
    }

    /**
     * One sync round, sync lock held: syncs everything published (one fdatasync per file) and
     * advances the durable LSN. Returns 1 if it synced, 0 if there was nothing to sync, -1 if the
     * pipeline has stopped (a failure, now or before: after a failed sync nothing is synced again).
     */
    private int syncPublished() {
        if (failure != null || filesClosed) {
            return -1;
        }
        long target;
        List<WalAppender.Target> targets;
        synchronized (this) {
            target = publishedLsn;
            if (target <= durability.get()) {
                return 0;
            }
            targets = new ArrayList<>(published.values()); // file names sort in cycle order
            published.clear();
        }
        if (!syncAll(targets, target)) {
            return -1;
        }
        syncs++;
        lastSyncNanos = System.nanoTime();
        durability.advance(target);
        return 1;
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

    /**
     * Wakes the sync waiters the durable LSN has reached. The syncer and leading committers may
     * run it at once: a waiter is completed only by whoever removes it (by identity, not the head
     * of the moment, which may already be a later one).
     */
    private void completeWaiters() {
        long d = durability.get();
        Request r;
        while ((r = syncWaiters.peek()) != null && r.lsn <= d) {
            if (syncWaiters.remove(r)) {
                r.phase = COMPLETE;
                LockSupport.unpark(r.waiter);
            }
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
