package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL retention hooks, kept as small files under {@code DATA/marks/} so that a shipper or
 * follower in another process can move them: {@code archived.ID} holds the LSN up to which the WAL
 * is safely in required archive ID ({@code ArchiveUri#id}), {@code consumer.NAME} the LSN each
 * registered consumer has consumed; {@code archived} (no ID) is the mark of an older version, a
 * retention floor until the per-archive marks replace it (docs/OPERATIONS.md, "Several archives").
 * Each file holds one canonical LSN and a newline and is replaced atomically. The leader deletes
 * WAL only up to the minimum of the checkpoint, every archive mark and every consumer.
 * Thread-safe (each call is one file operation). {@code sync-acked} stays open once written and is
 * synced about {@link #SYNC_ACKED_MAX_LAG_MILLIS} after a write: {@link #setSyncAcked}, {@link #close}.
 */
public final class WalMarks {
    private static final Logger LOG = LoggerFactory.getLogger(WalMarks.class);
    public static final String DIR_NAME = "marks";
    private static final String ARCHIVED = "archived";
    private static final String SYNC_ACKED = "sync-acked";
    private static final String CONSUMER_PREFIX = "consumer.";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

    private final Path dir;
    /**
     * marks/sync-acked, open once this instance has written it (guarded by this), and the LSN it
     * holds. A RandomAccessFile, not a FileChannel: a FileChannel is interruptible, and one caller
     * whose thread carries an interrupt would close it for every later commit.
     */
    private RandomAccessFile syncAckedFile;
    private long syncAckedLsn = -1;
    /** {@link #close} was called: later writes of the mark keep nothing open (each renames a whole file). */
    private boolean closed;
    /**
     * The delay of an in-place write of sync-acked's sync: the first write after the mark was last
     * synced schedules one sync this long later ({@link #forceSyncAcked}, off the commit path),
     * which covers every write made until it runs. A power loss then leaves the mark behind by the
     * acknowledgements of about this while (plus the sync's own time; unless the disk hangs), also
     * after the last acknowledgement of a burst, where an unsynced in-place write would wait for the
     * kernel's writeback (30 s by default); and the mark costs at most one {@code fdatasync} per
     * this while, none per ack. {@link #close} syncs what is left.
     */
    static final long SYNC_ACKED_MAX_LAG_MILLIS = 50;
    /**
     * After a sync of sync-acked failed, the whole mark is rewritten by a synced rename; while that
     * fails too it is retried on the timer, first after {@link #SYNC_ACKED_MAX_LAG_MILLIS}, the wait
     * doubling up to this.
     */
    static final long SYNC_ACKED_RETRY_MAX_MILLIS = 1_000;
    /**
     * The longest {@link #close} waits, in all, for a sync of sync-acked still running and for its
     * own (a disk whose syncs hang): then it gives up, logs and throws, so that the store still lets
     * go of its LOCK ({@code Store.shutDownFiles} gives the WAL threads as long). Not a bound on a
     * rewrite of the whole mark that hangs (a repair, or a commit's rewrite): it holds this
     * instance's lock, which close takes first (docs/OPERATIONS.md, "Rejoin").
     */
    static final long SYNC_ACKED_CLOSE_WAIT_MILLIS = 30_000;

    /**
     * Runs a task once, after a delay, on another thread than the caller's (which holds this
     * instance's lock): the timer of the sync-acked syncs (tests run the task by hand).
     */
    interface Delay {
        void after(long millis, Runnable task);
    }

    /** Syncs the data of the open sync-acked file ({@code fdatasync}; tests count, fail or hang it). */
    interface Forcer {
        void force(RandomAccessFile file) throws IOException;
    }

    /**
     * The threads of every store's sync-acked syncs in the process: one timer thread that only
     * hands due syncs over, and daemon worker threads that run them, as many as syncs run at once
     * (idle ones end after a minute). A store has at most one sync scheduled or running at a time,
     * so a store whose disk hangs holds one worker thread and the others' syncs go on.
     */
    private static final class SharedDelay {
        static final ScheduledThreadPoolExecutor TIMER;
        static final ThreadPoolExecutor WORKERS;

        static {
            TIMER = new ScheduledThreadPoolExecutor(1, r -> {
                Thread t = new Thread(r, "walship-sync-acked-timer");
                t.setDaemon(true);
                return t;
            });
            TIMER.setRemoveOnCancelPolicy(true);
            AtomicInteger n = new AtomicInteger();
            WORKERS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "walship-sync-acked-sync-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        }

        static void after(long millis, Runnable task) {
            TIMER.schedule(() -> handOff(task), millis, TimeUnit.MILLISECONDS);
        }

        /** Runs {@code task} on a worker; if no thread can be had now, tries again a tick later (never runs it on the timer). */
        private static void handOff(Runnable task) {
            try {
                WORKERS.execute(task);
            } catch (RejectedExecutionException | OutOfMemoryError e) {
                LOG.warn("no thread for a sync of marks/sync-acked ({}); trying again in {} ms", e.toString(),
                        SYNC_ACKED_MAX_LAG_MILLIS);
                TIMER.schedule(() -> handOff(task), SYNC_ACKED_MAX_LAG_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * {@code fdatasync} through the file's channel, made uninterruptible where the JVM allows (an
     * interrupt would close the channel and with it the file every commit writes).
     */
    private static void fdatasync(RandomAccessFile file) throws IOException {
        java.nio.channels.FileChannel ch = file.getChannel();
        Uninterruptible.make(ch);
        ch.force(false);
    }

    private final Delay delay;
    private final Forcer forcer;
    private final long closeWaitNanos;
    /** The highest LSN this instance wrote into sync-acked (in place or renamed), -1: none. Never reset. */
    private long syncAckedWritten = -1;
    /** The highest LSN of sync-acked known to be on disk (synced) by this instance, -1: none (written under this). */
    private volatile long syncAckedDurableLsn = -1;
    /** A delayed sync is scheduled and has not started yet. */
    private boolean syncAckedSyncScheduled;
    /**
     * The generation of the scheduled sync: a scheduled task runs only if it is still the current
     * one. A successful rename makes the mark durable and drops the scheduled one (a retry backed
     * off up to {@link #SYNC_ACKED_RETRY_MAX_MILLIS}), so the next in-place write schedules its own.
     */
    private long syncAckedSyncGeneration;
    /** The file a delayed sync runs on now (outside the lock), or null: at most one runs at a time. */
    private RandomAccessFile syncAckedSyncing;
    /**
     * That file was let go of while it synced (a failed write, or a close that gave up waiting): the
     * sync closes it when it returns, and its outcome counts for nothing.
     */
    private boolean syncAckedLetGoWhileSyncing;
    /** When the first write not covered by a scheduled sync was made while a sync ran ({@code nanoTime}); -1: none. */
    private long syncAckedUnscheduledSince = -1;
    /** Failed rewrites of the whole mark in a row, after a failed sync (the retries' backoff). */
    private int syncAckedRepairFailures;
    /** The last failure to make {@link #syncAckedWritten} durable, while it is not (close reports it). */
    private IOException syncAckedFailure;
    /** {@link #close} has run (a second call returns at once). */
    private boolean closeDone;
    private long syncAckedSyncs;

    public WalMarks(Path dataDir) {
        this(dataDir, SharedDelay::after, WalMarks::fdatasync, SYNC_ACKED_CLOSE_WAIT_MILLIS);
    }

    /** With the timer and the sync of the sync-acked mark (tests; {@link #close} gives up on a hung sync after 1 s). */
    WalMarks(Path dataDir, Delay delay, Forcer forcer) {
        this(dataDir, delay, forcer, 1_000);
    }

    WalMarks(Path dataDir, Delay delay, Forcer forcer, long closeWaitMillis) {
        this.dir = dataDir.resolve(DIR_NAME);
        this.delay = delay;
        this.forcer = forcer;
        this.closeWaitNanos = TimeUnit.MILLISECONDS.toNanos(closeWaitMillis);
    }

    /**
     * The retention floor the archives set: the lowest of every required archive's mark
     * ({@code archived.ID}) and of the legacy mark ({@code archived}, written by a shipper of an
     * older version, kept until the per-archive marks replace it); empty if there is none (no
     * archiving has started).
     */
    public OptionalLong archived() {
        OptionalLong legacy = legacyArchived();
        long min = legacy.isPresent() ? legacy.getAsLong() : Long.MAX_VALUE;
        for (long v : archivedMarks().values()) {
            min = Math.min(min, v);
        }
        return min == Long.MAX_VALUE ? OptionalLong.empty() : OptionalLong.of(min);
    }

    /** The legacy single-archive mark {@code marks/archived} (no archive ID), if there is one. */
    public OptionalLong legacyArchived() {
        return read(dir.resolve(ARCHIVED));
    }

    /** Each required archive's mark {@code marks/archived.ID}, by archive ID. */
    public Map<String, Long> archivedMarks() {
        return list(ARCHIVED + ".");
    }

    /** One required archive's mark, if it has one. */
    public OptionalLong archived(String archiveId) {
        checkName(archiveId);
        return read(dir.resolve(ARCHIVED + "." + archiveId));
    }

    /** Writes the legacy mark {@code marks/archived} (tests of an upgrade; a shipper writes {@link #setArchived(String, long)}). */
    public synchronized void setArchived(long lsn) {
        OptionalLong cur = legacyArchived();
        if (cur.isEmpty() || lsn > cur.getAsLong()) {
            write(dir.resolve(ARCHIVED), lsn);
        }
    }

    /** Records that archive {@code archiveId} holds the WAL up to {@code lsn}; never moves its mark backwards. */
    public synchronized void setArchived(String archiveId, long lsn) {
        OptionalLong cur = archived(archiveId);
        if (cur.isEmpty() || lsn > cur.getAsLong()) {
            write(dir.resolve(ARCHIVED + "." + archiveId), lsn);
        }
    }

    /**
     * Creates archive {@code archiveId}'s mark at {@code lsn} (0: hold all the WAL) unless it has
     * one, durably, so retention keeps the WAL for it before its shipper's first run.
     */
    public synchronized void createArchived(String archiveId, long lsn) {
        if (archived(archiveId).isEmpty()) {
            write(dir.resolve(ARCHIVED + "." + archiveId), lsn);
        }
    }

    /** Deletes archive {@code archiveId}'s mark (an archive no longer required: retention stops waiting for it). */
    public synchronized void removeArchived(String archiveId) {
        checkName(archiveId);
        Path f = dir.resolve(ARCHIVED + "." + archiveId);
        try {
            if (Files.deleteIfExists(f)) {
                AtomicFiles.fsyncDirectory(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("remove " + f + ": " + e.getMessage(), e);
        }
    }

    /** Deletes the legacy mark {@code marks/archived} once the per-archive marks are durable in its place. */
    public synchronized void removeLegacyArchived() {
        Path f = dir.resolve(ARCHIVED);
        try {
            if (Files.deleteIfExists(f)) {
                AtomicFiles.fsyncDirectory(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("remove " + f + ": " + e.getMessage(), e);
        }
    }

    /**
     * The highest LSN a leader recorded as acknowledged by its followers in a sync commit mode
     * ({@code semi-sync}/{@code sync}), or empty if it recorded none: a rejoin refuses to discard
     * past it ({@code walship follow} on a former leader, docs/OPERATIONS.md "Rejoin").
     */
    public OptionalLong syncAcked() {
        return read(dir.resolve(SYNC_ACKED));
    }

    /**
     * Records that followers acknowledged up to {@code lsn} in a sync commit mode; never moves the
     * mark backwards. It is on the commit path of every acknowledged commit, so no call syncs it in
     * the normal case: it survives a crash of the process once the call returns, and a sync
     * scheduled by the first write since the mark's last sync runs {@link #SYNC_ACKED_MAX_LAG_MILLIS}
     * later off the commit path, so a power loss leaves it behind by the acknowledgements of about
     * that while, also after the last one of a burst, unless the disk hangs (docs/OPERATIONS.md,
     * "Rejoin"). The first call (re)writes the file whole and atomically (a rename, synced: a mark
     * torn by a power loss, or of another length, is replaced) and keeps it open; later calls
     * overwrite its one fixed-width line in place with one positional write — in the page cache once
     * the call returns, so a crash of the process keeps it, like the rename did, without the read,
     * create and rename per ack (about 0.5 ms each beside the WAL's syncs on ext4;
     * docs/BENCHMARKS.md, "Commit modes"). This instance must then be the mark's only writer (the
     * store's, {@link Store#marks()}); {@link #close} syncs and lets go of the file.
     *
     * <p>A delayed sync that fails lets go of the file and rewrites the whole mark, at the highest LSN
     * written, by a synced rename, retried on the timer while it fails; a call meanwhile makes that
     * rewrite itself (with its own LSN) and fails only if it fails too.
     *
     * @throws UncheckedIOException if the write fails, if a rewrite of the whole mark fails, or if its
     *     sync cannot be scheduled (the write is then in place, not yet synced)
     */
    public synchronized void setSyncAcked(long lsn) {
        if (syncAckedFile != null) {
            if (lsn > syncAckedLsn) {
                overwriteSyncAcked(lsn);
            }
            return;
        }
        renameSyncAcked(lsn);
    }

    /**
     * Writes the whole mark by a synced rename (file, rename, directory) at the highest of
     * {@code lsn}, what it holds and what this instance wrote, and keeps it open unless closed: the
     * first write per open, and the repair of a failed sync or write. Under this instance's lock
     * (writers and repairs never rename at once).
     */
    private void renameSyncAcked(long lsn) {
        OptionalLong cur;
        try {
            cur = syncAcked();
        } catch (IntegrityException e) {
            // left empty or torn by a power loss (in-place writes are synced only after a while):
            // acks only grow, so the LSN acknowledged now is at least what it held
            cur = OptionalLong.empty();
        }
        // what this instance wrote in place before a failure let go of the file may be unsynced
        long value = Math.max(syncAckedWritten, cur.isPresent() ? Math.max(cur.getAsLong(), lsn) : lsn);
        AtomicFiles.createDirectories(dir);
        Path f = dir.resolve(SYNC_ACKED);
        // synced (file, rename, directory): recorded below as durable, and a mark a power loss
        // leaves missing would tell a rejoin this leader never acknowledged in a sync mode
        AtomicFiles.write(f, syncAckedLine(value));
        syncAckedWritten = value;
        syncAckedDurableLsn = Math.max(syncAckedDurableLsn, value);
        syncAckedFailure = null;
        syncAckedRepairFailures = 0;
        syncAckedSyncScheduled = false; // a pending retry is stale now: the next write schedules a sync of its own
        syncAckedSyncGeneration++;
        if (!closed) {
            try {
                syncAckedFile = new RandomAccessFile(f.toFile(), "rw");
            } catch (IOException e) {
                throw new UncheckedIOException("write " + f + ": " + e.getMessage(), e);
            }
            syncAckedLsn = value;
        }
    }

    /**
     * One write at offset 0 of the line's 17 bytes, the file's whole content (same length every
     * time), and a sync {@link #SYNC_ACKED_MAX_LAG_MILLIS} later unless one is scheduled or running
     * already (a running one schedules the next when it ends). On a failure the file is let go of:
     * the next call (or the timer) writes a whole file by rename again rather than failing on a
     * handle in an unknown state.
     */
    private void overwriteSyncAcked(long lsn) {
        try {
            syncAckedFile.seek(0);
            syncAckedFile.write(syncAckedLine(lsn));
        } catch (IOException e) {
            letGoOfSyncAcked(e);
            throw new UncheckedIOException("write " + dir.resolve(SYNC_ACKED) + ": " + e, e);
        }
        syncAckedLsn = lsn;
        syncAckedWritten = Math.max(syncAckedWritten, lsn);
        if (syncAckedSyncScheduled) {
            return;
        }
        if (syncAckedSyncing != null) {
            if (syncAckedUnscheduledSince < 0) {
                syncAckedUnscheduledSince = System.nanoTime();
            }
            return;
        }
        try {
            scheduleSync(SYNC_ACKED_MAX_LAG_MILLIS);
        } catch (RuntimeException | Error e) {
            // the next write tries again, and close syncs what is left; this commit's answer says so
            // (a storage failure, 503), not a bug's 500
            throw new UncheckedIOException("schedule the sync of " + dir.resolve(SYNC_ACKED) + " (LSN " + Lsn.format(lsn)
                    + " is written in place, not yet synced): " + e, new IOException(e.toString(), e));
        }
    }

    /** Schedules the delayed sync (under this); the flag is left clear if scheduling throws. */
    private void scheduleSync(long millis) {
        syncAckedSyncScheduled = true;
        long generation = ++syncAckedSyncGeneration;
        try {
            delay.after(millis, () -> forceSyncAcked(generation));
        } catch (RuntimeException | Error e) {
            syncAckedSyncScheduled = false;
            throw e;
        }
    }

    /**
     * Lets go of the open mark after a failure (adding a failure to close to {@code e}); the next
     * write renames a whole file. A file a sync runs on is closed by that sync when it returns.
     */
    private void letGoOfSyncAcked(IOException e) {
        RandomAccessFile f = syncAckedFile;
        syncAckedFile = null;
        syncAckedLsn = -1;
        if (f == null) {
            return;
        }
        if (f == syncAckedSyncing) {
            syncAckedLetGoWhileSyncing = true; // closing it under a running sync would wait for that sync
            return;
        }
        try {
            f.close();
        } catch (IOException suppressed) {
            e.addSuppressed(suppressed);
        }
    }

    /**
     * The delayed sync, on a worker thread: syncs the open mark up to what was written when it
     * starts, outside the writers' lock, so commits are not held up by it; a write during the sync
     * has the next one scheduled when it ends. If the mark was let go of (a failed write or sync) it
     * rewrites the whole mark by a synced rename instead. A failed sync is logged and repaired at
     * once the same way; a failed repair is retried on the timer (backing off up to
     * {@link #SYNC_ACKED_RETRY_MAX_MILLIS}) until it, a call or {@link #close} succeeds.
     */
    void forceSyncAcked(long generation) {
        RandomAccessFile f;
        long lsn;
        synchronized (this) {
            if (generation != syncAckedSyncGeneration) {
                return; // dropped by a successful rename (or superseded): a later write schedules its own
            }
            syncAckedSyncScheduled = false;
            if (closed || syncAckedSyncing != null || syncAckedWritten <= syncAckedDurableLsn) {
                return; // close syncs what is left; a running sync schedules the next when it ends
            }
            if (syncAckedFile == null) {
                repairSyncAcked();
                scheduleNextSync();
                return;
            }
            f = syncAckedFile;
            lsn = syncAckedLsn;
            syncAckedSyncing = f;
            syncAckedUnscheduledSince = -1;
        }
        IOException failed = null;
        boolean returned = false; // false: the sync ended in an Error (it propagates after the finally)
        try {
            forcer.force(f);
            returned = true;
        } catch (IOException e) {
            failed = e;
            returned = true;
        } catch (RuntimeException e) {
            failed = new IOException(e.toString(), e);
            returned = true;
        } finally {
            afterSync(f, lsn, returned, failed);
        }
    }

    /**
     * The end of a delayed sync (in a finally: also after an Error, which would otherwise leave the
     * store believing a sync runs for good): no sync runs any more, close is woken, and the next
     * sync is scheduled if a write is not synced. A sync that ended in an Error proves nothing and
     * keeps the file: the next sync tries again.
     */
    private void afterSync(RandomAccessFile f, long lsn, boolean returned, IOException failed) {
        synchronized (this) {
            syncAckedSyncing = null;
            boolean letGo = syncAckedLetGoWhileSyncing;
            syncAckedLetGoWhileSyncing = false;
            notifyAll(); // close waits for a running sync
            if (letGo) {
                // a failed write, or a close that gave up on this sync: it proves nothing of what is on disk now
                closeQuietly(f);
            } else if (!returned) {
                LOG.error("sync of {} (up to LSN {}) ended in an Error; the next sync tries again",
                        dir.resolve(SYNC_ACKED), Lsn.format(lsn));
            } else if (failed == null) {
                syncAckedSyncs++;
                syncAckedDurableLsn = Math.max(syncAckedDurableLsn, lsn);
            } else {
                LOG.error("sync of {} (the LSNs up to {} acknowledged in a sync commit mode, what a rejoin must not"
                        + " discard) failed: {}; rewriting the whole mark by a synced rename", dir.resolve(SYNC_ACKED),
                        Lsn.format(lsn), Errors.oneLine(failed));
                syncAckedFailure = failed;
                if (syncAckedFile == f) {
                    letGoOfSyncAcked(failed);
                } else {
                    closeQuietly(f);
                }
                if (!closed) {
                    repairSyncAcked();
                }
            }
            if (!closed) {
                scheduleNextSync();
            }
        }
    }

    /**
     * Rewrites the whole mark at the highest LSN written by a synced rename, after a failed sync or
     * write let go of the file (under this). A failure is logged and kept for {@link #close}.
     */
    private void repairSyncAcked() {
        long lsn = syncAckedWritten;
        try {
            renameSyncAcked(lsn);
            LOG.warn("rewrote {} whole at LSN {} by a synced rename after a failure; it is durable again",
                    dir.resolve(SYNC_ACKED), Lsn.format(syncAckedWritten));
        } catch (RuntimeException e) {
            syncAckedRepairFailures++;
            IOException cause = e.getCause() instanceof IOException io ? io : new IOException(e.toString(), e);
            if (syncAckedFailure != null && syncAckedFailure != cause) {
                cause.addSuppressed(syncAckedFailure);
            }
            syncAckedFailure = cause;
            LOG.error("rewrite of {} (the LSNs up to {} acknowledged in a sync commit mode) failed: {}; a power loss may"
                    + " leave the mark behind them; retrying on a timer, each sync commit meanwhile rewrites it"
                    + " (answered 503 if that fails too), and closing the store reports it if none succeeds",
                    dir.resolve(SYNC_ACKED), Lsn.format(lsn), Errors.oneLine(e));
        }
    }

    /**
     * At the end of a delayed sync (under this, not closed): schedules the next one if a write is
     * not synced — due {@link #SYNC_ACKED_MAX_LAG_MILLIS} after the first write made during the sync,
     * or, while the mark's rewrite fails, after a backoff.
     */
    private void scheduleNextSync() {
        if (syncAckedSyncScheduled || syncAckedWritten <= syncAckedDurableLsn) {
            syncAckedUnscheduledSince = -1;
            return;
        }
        long millis;
        if (syncAckedFile == null) {
            int doublings = Math.max(0, Math.min(syncAckedRepairFailures - 1, 10));
            millis = Math.min(SYNC_ACKED_MAX_LAG_MILLIS << doublings, SYNC_ACKED_RETRY_MAX_MILLIS);
        } else if (syncAckedUnscheduledSince < 0) {
            millis = SYNC_ACKED_MAX_LAG_MILLIS;
        } else {
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - syncAckedUnscheduledSince);
            millis = Math.max(0, SYNC_ACKED_MAX_LAG_MILLIS - waited);
        }
        syncAckedUnscheduledSince = -1;
        try {
            scheduleSync(millis);
        } catch (RuntimeException | Error e) {
            LOG.error("could not schedule the next sync of {} (LSN {} written, not yet synced): {}; the next sync"
                    + " commit schedules it, and closing the store syncs it", dir.resolve(SYNC_ACKED),
                    Lsn.format(syncAckedWritten), e.toString());
        }
    }

    private void closeQuietly(RandomAccessFile f) {
        try {
            f.close();
        } catch (IOException e) {
            LOG.warn("close {}: {}", dir.resolve(SYNC_ACKED), Errors.oneLine(e));
        }
    }

    /** How many syncs of in-place writes of sync-acked were made, delayed or on close (tests). */
    synchronized long syncAckedSyncs() {
        return syncAckedSyncs;
    }

    /** The highest LSN of sync-acked this instance knows to be synced to disk, -1 if none (tests). */
    long syncAckedDurableLsn() {
        return syncAckedDurableLsn;
    }

    private static byte[] syncAckedLine(long lsn) {
        return (Lsn.format(lsn) + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Makes the sync-acked mark durable up to what this instance wrote and lets go of it (the store
     * closes): waits for a delayed sync still running, syncs what is unsynced, and if a sync failed
     * (or the file was let go of after a failure) rewrites the whole mark by a synced rename. A write
     * after this (a commit answered during shutdown) renames a whole synced file in place and keeps
     * nothing open. It waits {@link #SYNC_ACKED_CLOSE_WAIT_MILLIS} at most in all for the syncs (a
     * disk that hangs), then logs, throws, and leaves the file to be closed by the hung sync when it
     * returns. A rewrite of the whole mark that hangs under this instance's lock (a repair on the
     * worker, or a commit's) is not bounded: close waits for the lock first. A second call returns at once.
     *
     * @throws UncheckedIOException if the mark could not be made durable up to what was written (the
     *     sync and the rewrite failed, or a sync did not return in time), or the file failed to close
     */
    public void close() {
        // an interrupt pending on the closing thread would end the waits below at once
        boolean interrupted = Thread.interrupted();
        try {
            closeSyncAcked(System.nanoTime() + closeWaitNanos);
        } finally {
            if (interrupted || Thread.interrupted()) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void closeSyncAcked(long deadline) {
        RandomAccessFile c;
        long lsn;
        synchronized (this) {
            if (closeDone) {
                return;
            }
            closeDone = true;
            closed = true;
            boolean interrupted = false;
            while (syncAckedSyncing != null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(this, left); // writers go on meanwhile
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            if (syncAckedSyncing != null) {
                RandomAccessFile open = syncAckedFile;
                if (open != null && open != syncAckedSyncing) {
                    closeQuietly(open); // a mark renamed into place after a failure let go of the syncing one
                }
                syncAckedFile = null;
                syncAckedLsn = -1;
                syncAckedLetGoWhileSyncing = true; // that sync closes the file when it returns
                throw gaveUp("its delayed sync", syncAckedWritten);
            }
            c = syncAckedFile;
            syncAckedFile = null;
            syncAckedLsn = -1;
            lsn = syncAckedWritten;
            if (lsn <= syncAckedDurableLsn) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException("close " + dir.resolve(SYNC_ACKED) + ": " + e.getMessage(), e);
                    }
                }
                return;
            }
        }
        // outside the lock: a write meanwhile renames a whole synced mark (the file is let go of)
        IOException failed;
        if (c != null) {
            failed = boundedOrGiveUp(deadline, "its final sync", lsn, () -> {
                try {
                    forcer.force(c);
                } finally {
                    c.close(); // on the thread of the sync: closing it under a hung sync would hang too
                }
            });
            if (failed == null) {
                synchronized (this) {
                    syncAckedSyncs++;
                    syncAckedDurableLsn = Math.max(syncAckedDurableLsn, lsn);
                }
                return;
            }
            LOG.error("final sync of {} (the LSNs up to {} acknowledged in a sync commit mode) failed: {}; rewriting"
                    + " the whole mark by a synced rename", dir.resolve(SYNC_ACKED), Lsn.format(lsn),
                    Errors.oneLine(failed));
        } else {
            synchronized (this) {
                failed = syncAckedFailure;
            }
        }
        // let go of after a failure, or its final sync failed: the whole mark by a synced rename
        IOException repair = boundedOrGiveUp(deadline, "the rewrite of the whole mark", lsn, () -> {
            synchronized (this) {
                if (syncAckedWritten > syncAckedDurableLsn) {
                    renameSyncAcked(syncAckedWritten);
                }
            }
        });
        if (repair != null) {
            if (failed != null && failed != repair) {
                repair.addSuppressed(failed);
            }
            LOG.error("rewrite of {} (the LSNs up to {} acknowledged in a sync commit mode) failed: {}; a power loss"
                    + " may leave the mark behind them", dir.resolve(SYNC_ACKED), Lsn.format(lsn), Errors.oneLine(repair));
            throw new UncheckedIOException("sync or rewrite " + dir.resolve(SYNC_ACKED) + " up to LSN " + Lsn.format(lsn)
                    + ": " + repair.getMessage(), repair);
        }
        LOG.warn("rewrote {} whole at LSN {} by a synced rename after a failure; it is durable again",
                dir.resolve(SYNC_ACKED), Lsn.format(lsn));
    }

    private interface IoAction {
        void run() throws IOException;
    }

    /**
     * Runs {@code action} on a worker thread and waits for it until {@code deadline}: its failure,
     * or null; past the deadline, logs and throws (the action's late outcome counts for nothing).
     */
    private IOException boundedOrGiveUp(long deadline, String what, long lsn, IoAction action) {
        Callable<IOException> task = () -> {
            try {
                action.run();
                return null;
            } catch (IOException e) {
                return e;
            } catch (UncheckedIOException e) {
                return e.getCause();
            } catch (RuntimeException e) {
                return new IOException(e.toString(), e);
            }
        };
        Future<IOException> f;
        try {
            f = SharedDelay.WORKERS.submit(task);
        } catch (RejectedExecutionException | OutOfMemoryError e) {
            try {
                return task.call(); // no thread to be had: unbounded, on the closing thread
            } catch (Exception unexpected) {
                return new IOException(unexpected.toString(), unexpected);
            }
        }
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    return new IOException(e.getCause().toString(), e.getCause());
                } catch (TimeoutException e) {
                    throw gaveUp(what, lsn);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private UncheckedIOException gaveUp(String what, long lsn) {
        long durable = syncAckedDurableLsn; // volatile: the lock may be held by what hangs
        String msg = "closing " + dir.resolve(SYNC_ACKED) + ": " + what + " did not return within "
                + TimeUnit.NANOSECONDS.toMillis(closeWaitNanos) + " ms (a disk that hangs?); closed without it, the mark"
                + " is durable only up to " + (durable < 0 ? "no LSN" : "LSN " + Lsn.format(durable)) + " of "
                + Lsn.format(lsn) + " acknowledged";
        LOG.error(msg);
        return new UncheckedIOException(msg, new IOException(what + " of " + dir.resolve(SYNC_ACKED) + " timed out"));
    }

    public void setConsumer(String name, long lsn) {
        checkName(name);
        write(dir.resolve(CONSUMER_PREFIX + name), lsn);
    }

    public void removeConsumer(String name) {
        checkName(name);
        try {
            Files.deleteIfExists(dir.resolve(CONSUMER_PREFIX + name));
        } catch (IOException e) {
            throw new UncheckedIOException("remove consumer mark " + name, e);
        }
    }

    public Map<String, Long> consumers() {
        return list(CONSUMER_PREFIX);
    }

    private Map<String, Long> list(String prefix) {
        Map<String, Long> out = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, prefix + "*")) {
            for (Path p : ds) {
                if (p.getFileName().toString().endsWith(".tmp")) {
                    continue;
                }
                read(p).ifPresent(v -> out.put(p.getFileName().toString().substring(prefix.length()), v));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("list " + dir, e);
        }
        return out;
    }

    private static void checkName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("consumer name must match " + NAME.pattern() + ": '" + name + "'");
        }
    }

    private void write(Path f, long lsn) {
        AtomicFiles.createDirectories(dir); // fsyncs the data directory when it creates marks/
        AtomicFiles.write(f, (Lsn.format(lsn) + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static OptionalLong read(Path f) {
        try {
            if (!Files.exists(f)) {
                return OptionalLong.empty();
            }
            return OptionalLong.of(Lsn.parse(Files.readString(f, StandardCharsets.US_ASCII).trim()));
        } catch (IOException e) {
            throw new UncheckedIOException("read " + f, e);
        } catch (IllegalArgumentException e) {
            throw new IntegrityException("mark file " + f + " is corrupt: " + e.getMessage());
        }
    }
}
