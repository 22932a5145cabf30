package io.walship.wal;

import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every checkpoint rule of a {@link Store}: when to checkpoint, what a checkpoint writes, the
 * full-page-image horizon it moves, and the WAL retention it allows afterwards.
 *
 * <p>A checkpoint takes the store's last LSN as its redo point, moves the FPI horizon there (so
 * the first change to any page after it logs a full image), writes the dirty pages back once the
 * WAL is durable up to the redo point, fsyncs the page file and only then records the redo point
 * in the control file. Then WAL that neither recovery, the archive nor a registered consumer
 * needs is deleted.
 *
 * <p>Thread-safe: checkpoints are serialised by a mutex; the horizon is read and moved under the
 * store's write lock. A background thread checks the triggers (WAL bytes, time) on every tick.
 */
final class Checkpointer {
    private static final Logger LOG = LoggerFactory.getLogger(Store.class);

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

        /** Blocks until the WAL is durable up to {@code lsn}. */
        void awaitDurable(long lsn);
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
    private ScheduledExecutorService background;
    private volatile long lastCheckpointNanos = System.nanoTime();
    private volatile boolean running;
    // guarded by the write lock
    private long fpiHorizon;

    Checkpointer(Path dir, StoreOptions options, Host host, ReentrantReadWriteLock rw, BufferPool pool,
                 PageFile pageFile, WalLog wal, WalMarks marks, long fpiHorizon) {
        this.dir = dir;
        this.options = options;
        this.host = host;
        this.rw = rw;
        this.pool = pool;
        this.pageFile = pageFile;
        this.wal = wal;
        this.marks = marks;
        this.fpiHorizon = fpiHorizon;
    }

    /** Starts the background thread; {@code onTick} runs first on every tick (the archive-lag sample). */
    void start(Runnable onTick) {
        background = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "walship-checkpointer");
            t.setDaemon(true);
            return t;
        });
        long tick = Math.max(10, Math.min(1_000, options.checkpointInterval().toMillis() / 4));
        background.scheduleWithFixedDelay(() -> {
            try {
                onTick.run();
            } catch (RuntimeException e) {
                LOG.error("checkpoint failed: {}", e.getMessage(), e);
                return;
            }
            maybeCheckpoint();
        }, tick, tick, TimeUnit.MILLISECONDS);
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

    /** The FPI horizon new commits are sealed with. Write lock. */
    long fpiHorizon() {
        return fpiHorizon;
    }

    /** An entry of {@code bytes} bytes was appended to the WAL (writer thread). */
    void walAppended(int bytes) {
        walBytesSinceCheckpoint.addAndGet(bytes);
    }

    long checkpoints() {
        return checkpoints.get();
    }

    /** Eviction's write-ahead step: the WAL must be durable up to the page's LSN before it is written. */
    void walSyncForEviction(long pageLsn) {
        if (running) {
            throw new IllegalStateException("dirty eviction during a checkpoint");
        }
        host.awaitDurable(pageLsn);
    }

    private void maybeCheckpoint() {
        try {
            boolean byBytes = walBytesSinceCheckpoint.get() >= options.checkpointWalBytes();
            boolean byTime = System.nanoTime() - lastCheckpointNanos >= options.checkpointInterval().toNanos();
            if (!host.isClosed() && (byBytes || byTime)) {
                checkpoint();
            }
        } catch (RuntimeException e) {
            LOG.error("checkpoint failed: {}", e.getMessage(), e);
        }
    }

    /**
     * Writes every dirty page back and records the checkpoint LSN, then deletes WAL that neither
     * recovery, the archive nor a registered consumer needs. Writers pause only while dirty pages
     * are copied in memory. Returns the checkpoint LSN.
     */
    long checkpoint() {
        synchronized (mutex) {
            List<BufferPool.Frame> dirty;
            byte[][] copies;
            long redo;
            rw.writeLock().lock();
            try {
                host.checkOpen();
                redo = host.lastLsn();
                dirty = pool.dirtyFrames();
                if (dirty.isEmpty() && redo == host.control().checkpointLsn()) {
                    lastCheckpointNanos = System.nanoTime();
                    copies = null;
                } else {
                    copies = new byte[dirty.size()][];
                }
                for (int i = 0; copies != null && i < dirty.size(); i++) {
                    BufferPool.Frame f = dirty.get(i);
                    copies[i] = PageFormat.sealedCopy(f.data);
                    f.dirty = false;
                }
                if (copies != null) {
                    fpiHorizon = redo;
                    running = true;
                    walBytesSinceCheckpoint.set(0);
                }
            } finally {
                rw.writeLock().unlock();
            }
            if (copies == null) {
                applyRetention(redo);
                return redo;
            }
            try {
                hooks.afterDirtySetChosen();
                host.awaitDurable(redo);
                for (int i = 0; i < copies.length; i++) {
                    pageFile.writeSealed(dirty.get(i).pageNo, copies[i]);
                }
                pageFile.sync();
                ControlFile next = host.control().withCheckpoint(redo, host.lastCommitMicros());
                next.write(dir);
                host.control(next);
                checkpoints.incrementAndGet();
                lastCheckpointNanos = System.nanoTime();
            } finally {
                running = false;
            }
            applyRetention(redo);
            return redo;
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

    // ---- test hooks -------------------------------------------------------------------------

    /** Points where a test can hold a checkpoint to drive an interleaving. */
    interface Hooks {
        /** The checkpoint has chosen its pages and released the write lock; nothing is written yet. */
        default void afterDirtySetChosen() {
        }
    }

    private volatile Hooks hooks = new Hooks() {
    };

    void hooksForTesting(Hooks h) {
        hooks = h;
    }
}
