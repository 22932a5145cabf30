package io.walship.wal;

import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every checkpoint rule of a {@link Store}: when to checkpoint, which redo point a checkpoint
 * takes, how it writes pages back, the full-page-image (FPI) horizon it moves and records in the
 * WAL, which dirty pages may be written at all, and the WAL retention it allows afterwards.
 *
 * <h2>A leader's checkpoint</h2>
 * <ol>
 *   <li>Under the write lock: the redo point R is the last LSN; the FPI horizon moves to R, so
 *       the first change to any page after R logs a full image; the set of dirty pages is taken.
 *       The next entry sealed records the horizon R (docs/FORMAT.md, "Checkpoint horizon").
 *   <li>The WAL is made durable up to R.
 *   <li>The pages of the set are written in batches of {@value #BATCH_PAGES}, each batch under the
 *       read lock, straight from their live frames ({@link BufferPool#writeDirty}): only frames
 *       still dirty are written, after the WAL is durable up to their page LSN, and they become
 *       clean in the same hold of the lock. Writers wait only for one batch at a time.
 *   <li>{@code pages.dat} is fsynced, and only then is R recorded in the control file. A failed
 *       fsync stops the store ({@link StoreFailedException}), as a failed WAL sync does.
 * </ol>
 * Why the control file never claims a page that is not on disk: every page with a change at or
 * before R that was not in the page file was dirty when the set was taken. When its batch runs, it
 * is either still dirty (the checkpoint writes its current bytes, which contain every change up
 * to R), or clean, because someone wrote it since, or gone from the pool, which it leaves only
 * clean: in both cases bytes at least as new as R's are in the page file. Newer bytes than R's
 * are harmless: redo from R + 1 starts every page with a full image. No eviction is ever refused
 * while a checkpoint runs, and nobody writes a page from an old copy, so a checkpoint cannot put
 * back an older version of a page an eviction wrote (see {@link BufferPool}).
 *
 * <h2>Torn pages</h2>
 * A crash while a page is written can leave it torn. Recovery redoes from the checkpoint C + 1,
 * and every entry after C was sealed with an FPI horizon of at least C, so the first change to any
 * page after C is a full image that overwrites a torn copy before anything reads it. The horizon
 * never moves back: after a restart it is the larger of C and the newest horizon the replayed WAL
 * records.
 *
 * <h2>A standby's restartpoints</h2>
 * A store that takes entries from a leader through {@link Store#apply} (a standby, or a follower)
 * seals nothing: the full images in its WAL are the leader's, placed by the leader's horizons. A
 * checkpoint at its own apply position A would be unsafe: a page whose first change after A is a
 * delta (the leader's horizon being older than A) cannot be repaired if it is torn. So a standby
 * checkpoints only at a <b>horizon H recorded in the entries it applied</b> (PostgreSQL's
 * restartpoint): every entry after H was sealed by the leader with full images from H on, so redo
 * from H + 1 repairs any torn page. Its pages may hold changes past H; redo rewrites them from
 * full images. Until the standby's own checkpoint C is known to be such a horizon, it must not
 * write dirty pages at all: it evicts clean frames only, and says once that the pool is over its
 * capacity because of it. Its first restartpoint comes as soon as a horizon H &gt; C has been
 * applied.
 *
 * <p>Known limit: when C is not a horizon (a directory restored from a snapshot at an arbitrary
 * LSN), the first restartpoint itself writes pages whose first change after C may be a delta; a
 * torn write during that one restartpoint is found by the page checksum at the next open (never
 * applied silently), and the standby must then be restored again.
 *
 * <p>Thread-safe: checkpoints are serialised by a mutex; the horizon state is read and changed
 * under the store's write lock (the writer thread, or recovery before the store is shared); the
 * flags read by eviction are volatile. A background thread checks the triggers on every tick.
 */
final class Checkpointer {
    private static final Logger LOG = LoggerFactory.getLogger(Store.class);
    /** Pages written per hold of the read lock. */
    static final int BATCH_PAGES = 64;

    /** What the checkpointer needs from its store. */
    interface Host {
        long lastLsn();

        /** Latest commit time (a volatile read). */
        long lastCommitMicros();

        ControlFile control();

        /** Records a new control file (already written to disk). */
        void control(ControlFile next);

        void checkOpen();

        boolean isClosed();

        /** Blocks until the WAL is durable up to {@code lsn} (a no-op before the WAL writer runs). */
        void awaitDurable(long lsn);

        /** The store has stopped for good (a failed WAL sync): nothing may reach the page file any more. */
        boolean failed();

        /** Stops the store for good (a failure that makes the page file untrustworthy). */
        void failStop(StoreFailedException f);

        /** Periodic work of the store that runs on the checkpointer's thread (snapshot ages, archive lag). */
        void onTick();
    }

    private final Path dir;
    private final StoreOptions options;
    private final Host host;
    private final ReentrantReadWriteLock rw;
    private final BufferPool pool;
    private final PageFile pageFile;
    private final WalLog wal;
    private final WalMarks marks;
    private final Object mutex = new Object();
    private final AtomicLong walBytesSinceCheckpoint = new AtomicLong();
    private final AtomicLong checkpoints = new AtomicLong();
    private final AtomicLong ticks = new AtomicLong();
    private final AtomicBoolean overCapacityLogged = new AtomicBoolean();
    private final BufferPool.WriteBack checkpointWrites;
    private final BufferPool.WriteBack evictionWrites;
    private ScheduledExecutorService background;
    private volatile long lastCheckpointNanos = System.nanoTime();

    // guarded by the write lock
    private long fpiHorizon;
    private boolean horizonToRecord;
    // written under the write lock, read by eviction under either lock
    private volatile long latestHorizon;
    private volatile boolean follower;
    private volatile boolean checkpointIsHorizon;

    Checkpointer(Path dir, StoreOptions options, Host host, ReentrantReadWriteLock rw, BufferPool pool,
                 PageFile pageFile, WalLog wal, WalMarks marks) {
        this.dir = dir;
        this.options = options;
        this.host = host;
        this.rw = rw;
        this.pool = pool;
        this.pageFile = pageFile;
        this.wal = wal;
        this.marks = marks;
        ControlFile control = host.control();
        this.fpiHorizon = control.checkpointLsn();
        this.horizonToRecord = fpiHorizon != Lsn.NONE;
        this.follower = control.standby();
        this.checkpointWrites = new BufferPool.WriteBack() {
            @Override
            public boolean mayWriteDirty() {
                return true;
            }

            @Override
            public void awaitDurable(long lsn) {
                host.awaitDurable(lsn);
            }
        };
        this.evictionWrites = new BufferPool.WriteBack() {
            @Override
            public boolean mayWriteDirty() {
                return dirtyWritesAllowed();
            }

            @Override
            public void awaitDurable(long lsn) {
                host.awaitDurable(lsn);
            }

            @Override
            public void overCapacity(int pages, int capacity) {
                if (overCapacityLogged.compareAndSet(false, true)) {
                    LOG.warn("standby {} at LSN {} holds {} pages, over its cache of {}: it may not write changed pages"
                                    + " before it has applied a checkpoint horizon of the leader past its checkpoint {}"
                                    + " (the next leader checkpoint brings one); until then the cache grows",
                            dir, Lsn.format(host.lastLsn()), pages, capacity,
                            Lsn.format(host.control().checkpointLsn()));
                }
            }
        };
    }

    /** How eviction (writer, readers, recovery) writes dirty pages back: the rules of this class. */
    BufferPool.WriteBack evictionWriteBack() {
        return evictionWrites;
    }

    /** Starts the background thread: the store's tick work, then the checkpoint triggers. */
    void start() {
        background = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-checkpointer");
            t.setDaemon(true);
            return t;
        });
        long tick = Math.max(10, Math.min(1_000, options.checkpointInterval().toMillis() / 4));
        background.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
    }

    /** Lets a running background checkpoint finish (waits up to 5 minutes), then stops the thread. */
    void stop() {
        background.shutdown();
        try {
            if (!background.awaitTermination(5, TimeUnit.MINUTES)) {
                LOG.warn("a background checkpoint of {} is still running after 5 minutes", dir);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops the thread at once (crash simulation). */
    void stopNow() {
        background.shutdownNow();
    }

    // ---- the FPI horizon (write lock) ----------------------------------------------------------

    /** The FPI horizon the next commit is sealed with. Write lock. */
    long fpiHorizon() {
        return fpiHorizon;
    }

    /** The horizon the next sealed entry records, or {@link Lsn#NONE}. Write lock. */
    long horizonToRecord() {
        return horizonToRecord ? fpiHorizon : Lsn.NONE;
    }

    /** An entry sealed by this store was appended; it recorded {@code horizon}. Write lock. */
    void sealedEntryAppended(long horizon, int bytes) {
        if (horizon != Lsn.NONE && horizon == fpiHorizon) {
            horizonToRecord = false;
        }
        follower = false;
        walBytesSinceCheckpoint.addAndGet(bytes);
    }

    /** An entry from the WAL or from a leader was applied to the pages. Write lock, or recovery. */
    void entryApplied(WalEntry e) {
        long h = e.horizon();
        if (h != Lsn.NONE) {
            latestHorizon = Math.max(latestHorizon, h);
            if (h > fpiHorizon) {
                // never seal with a lower horizon than one already in the WAL
                fpiHorizon = h;
                horizonToRecord = true;
            }
            if (h == host.control().checkpointLsn()) {
                checkpointIsHorizon = true;
            }
        }
    }

    /** What recovery's redo found: the newest horizon in the WAL, and whether the checkpoint is one. Before start. */
    void recovered(long horizon, boolean checkpointWasHorizon) {
        if (horizon != Lsn.NONE) {
            latestHorizon = Math.max(latestHorizon, horizon);
            if (horizon > fpiHorizon) {
                fpiHorizon = horizon; // never seal with a lower horizon than one already in the WAL
                horizonToRecord = true;
            }
        }
        if (checkpointWasHorizon) {
            checkpointIsHorizon = true;
        }
    }

    /** An entry received from a leader ({@link Store#apply}) was appended to this store's WAL. Write lock. */
    void upstreamEntryAppended(int bytes) {
        follower = true;
        walBytesSinceCheckpoint.addAndGet(bytes);
    }

    /** Whether eviction may write dirty pages now (see the class comment). */
    boolean dirtyWritesAllowed() {
        return !follower || checkpointIsHorizon;
    }

    /** The newest checkpoint horizon recorded in the entries applied so far ({@link Lsn#NONE} if none). */
    long latestHorizon() {
        return latestHorizon;
    }

    long checkpoints() {
        return checkpoints.get();
    }

    // ---- triggers ------------------------------------------------------------------------------

    private void tick() {
        try {
            host.onTick();
            if (host.isClosed() || host.failed()) {
                return;
            }
            boolean byBytes = walBytesSinceCheckpoint.get() >= options.checkpointWalBytes();
            boolean byTime = System.nanoTime() - lastCheckpointNanos >= options.checkpointInterval().toNanos();
            boolean firstRestartpoint = follower && !checkpointIsHorizon
                    && latestHorizon > host.control().checkpointLsn();
            if (byBytes || byTime || firstRestartpoint) {
                checkpoint();
            }
        } catch (RuntimeException e) {
            LOG.error("checkpoint of {} failed: {}", dir, e.getMessage(), e);
        } finally {
            ticks.incrementAndGet();
        }
    }

    /** Ticks completed by the background thread (tests wait for one instead of sleeping). */
    long ticksForTesting() {
        return ticks.get();
    }

    // ---- the checkpoint ------------------------------------------------------------------------

    /**
     * Writes the dirty pages back and records a new checkpoint (a leader: at its last LSN; a
     * standby: at the newest horizon it applied), then deletes WAL that neither recovery, the
     * archive nor a registered consumer needs. Returns the checkpoint LSN, which stays the old one
     * when there is nothing to do (a standby without a newer horizon).
     */
    long checkpoint() {
        synchronized (mutex) {
            long redo;
            int[] pages;
            boolean restartpoint;
            rw.writeLock().lock();
            try {
                host.checkOpen();
                long current = host.control().checkpointLsn();
                restartpoint = follower;
                redo = restartpoint ? latestHorizon : host.lastLsn();
                if (redo <= current && (restartpoint || pool.stats().dirtyPages() == 0)) {
                    lastCheckpointNanos = System.nanoTime();
                    pages = null;
                } else {
                    pages = pool.dirtyPages();
                    if (!restartpoint) {
                        fpiHorizon = redo;
                        horizonToRecord = true;
                    }
                    walBytesSinceCheckpoint.set(0);
                }
            } finally {
                rw.writeLock().unlock();
            }
            if (pages == null) {
                applyRetention(host.control().checkpointLsn());
                return host.control().checkpointLsn();
            }
            hooks.afterDirtySetChosen();
            host.awaitDurable(redo);
            for (int i = 0; i < pages.length; i += BATCH_PAGES) {
                rw.readLock().lock();
                try {
                    host.checkOpen();
                    pool.writeDirty(pages, i, Math.min(pages.length, i + BATCH_PAGES), checkpointWrites);
                } finally {
                    rw.readLock().unlock();
                }
            }
            try {
                hooks.syncPageFile(pageFile);
            } catch (RuntimeException e) {
                // the pages written back since the last checkpoint are marked clean and may have left
                // the pool; after a failed fsync the kernel may have dropped them as well, and a retry
                // would succeed without them (fsyncgate): only redo from the WAL is trustworthy now
                StoreFailedException f = new StoreFailedException("fsync of " + pageFile.path() + " failed during a"
                        + " checkpoint (" + e.getMessage() + "); pages written back since checkpoint LSN "
                        + Lsn.format(host.control().checkpointLsn()) + " may not be on disk; the store has stopped"
                        + " (fail-stop); reopen it to redo them from the WAL", e);
                host.failStop(f);
                throw f;
            }
            ControlFile next = host.control().withCheckpoint(redo, host.lastCommitMicros());
            next.write(dir);
            host.control(next);
            // a leader's own checkpoint protects its own entries; entries from elsewhere need a recorded horizon
            checkpointIsHorizon = restartpoint;
            checkpoints.incrementAndGet();
            lastCheckpointNanos = System.nanoTime();
            applyRetention(redo);
            return redo;
        }
    }

    /**
     * Rewrites the control file with {@code change} applied to it, serialised with checkpoints (which
     * rewrite it too), and makes it the store's: a follower switching to its new leader's timeline.
     */
    void rewriteControl(java.util.function.UnaryOperator<ControlFile> change) {
        synchronized (mutex) {
            host.checkOpen();
            ControlFile next = change.apply(host.control());
            next.write(dir);
            host.control(next);
        }
    }

    private void applyRetention(long checkpointLsn) {
        long bound = checkpointLsn;
        OptionalLong archived = marks.archived();
        if (options.retentionNeedsArchive()) {
            bound = archived.isPresent() ? Math.min(bound, archived.getAsLong()) : -1;
        }
        for (long c : marks.consumers().values()) {
            bound = Math.min(bound, c);
        }
        if (bound > 0) {
            int n = wal.deleteUpTo(bound);
            if (n > 0) {
                LOG.info("deleted {} WAL file(s) up to LSN {}", n, Lsn.format(bound));
            }
        }
    }

    // ---- test hooks ----------------------------------------------------------------------------

    /** Points where a test can hold a checkpoint to drive an interleaving. */
    interface Hooks {
        /** The checkpoint has chosen its pages and released the write lock; nothing is written yet. */
        default void afterDirtySetChosen() {
        }

        /** Syncs {@code pages.dat} before the checkpoint is recorded (a test can make it fail). */
        default void syncPageFile(PageFile file) {
            file.sync();
        }
    }

    private volatile Hooks hooks = new Hooks() {
    };

    void hooksForTesting(Hooks h) {
        hooks = h;
    }
}
