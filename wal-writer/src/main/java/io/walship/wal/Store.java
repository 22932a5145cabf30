package io.walship.wal;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongConsumer;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded key-value store: a B+tree in 4 KiB pages whose every commit is one physical WAL
 * entry in a Chronicle Queue, written before any of its pages can reach the page file.
 *
 * <p>Data directory: {@code control} (identity, timeline, checkpoint), {@code pages.dat},
 * {@code wal/} (Chronicle Queue), {@code durable-point} (the durable LSN, for other processes),
 * {@code marks/} (retention hooks) and {@code LOCK}, which one process at a time holds for
 * writing. Opening it ({@link Recovery}) creates or recovers the store.
 *
 * <p>Failures: a batch over a limit is refused ({@link BatchTooLargeException}), a full disk
 * refuses the commit and the store goes on ({@link StorageFullException}), a failed WAL sync or
 * a broken append stops the store for good ({@link StoreFailedException}, {@link #failure()}).
 *
 * <p>Thread-safe. Every commit runs on the {@link CommitPipeline}'s single writer thread, under
 * the write lock, and is synced by its sync thread together with whatever else was committed
 * meanwhile; callers wait without holding any lock. Readers share the read lock.
 */
public final class Store implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Store.class);
    public static final String LOCK_FILE = "LOCK";
    /** Present while a restore is filling the directory: such a directory never opens as a store. */
    public static final String RESTORE_MARKER = "RESTORE_INCOMPLETE";

    private final Path dir;
    private final StoreOptions options;
    private final WalSeams seams;
    private final DirectoryLock lock;
    private final DurablePoint durablePoint;
    private final PageFile pageFile;
    private final BufferPool pool;
    private final WalLog wal;
    private final CommitPipeline pipeline;
    private final WalMarks marks;
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private final List<Snapshot> snapshots = new CopyOnWriteArrayList<>();
    private final Object checkpointMutex = new Object();
    private final ScheduledExecutorService background;
    private final Snapshot.Source snapshotSource = new SnapshotSource();

    // guarded by rw write lock (volatile for lock-free status reads)
    private volatile ControlFile control;
    private volatile long lastLsn;
    private long lastCommitMicros;
    private long fpiHorizon;
    private volatile boolean checkpointRunning;
    private volatile boolean closed;

    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong fullPageImages = new AtomicLong();
    private final AtomicLong checkpoints = new AtomicLong();
    private final AtomicLong walBytesSinceCheckpoint = new AtomicLong();
    private volatile long lastCheckpointNanos = System.nanoTime();
    // archive lag: WAL bytes appended so far (writer thread), sampled by LSN every MiB
    private volatile long walBytesTotal;
    private long lastSampleBytes;
    private final java.util.concurrent.ConcurrentSkipListMap<Long, Long> walBytesAtLsn =
            new java.util.concurrent.ConcurrentSkipListMap<>();
    private volatile long archiveLagBytes;
    private volatile long archiveLagLsns;
    private volatile boolean refusingForArchiveLag;
    /** Sampling step: the lag is over-estimated by at most this much (1/16 of the bound, 4 KiB..1 MiB). */
    private final long lagSampleBytes;
    private long lastLagLogNanos;

    private Store(Path dir, StoreOptions options, WalSeams seams) {
        this.dir = dir;
        this.options = options;
        this.seams = seams;
        this.lagSampleBytes = Math.max(4096, Math.min(1L << 20, options.maxArchiveLagBytes() / 16));
        Recovery.Result r = Recovery.open(dir, options, seams);
        lock = r.lock();
        control = r.control();
        pageFile = r.pageFile();
        wal = r.wal();
        pool = r.pool();
        durablePoint = r.durablePoint();
        marks = new WalMarks(dir);
        lastLsn = r.lastLsn();
        lastCommitMicros = r.lastCommitMicros();
        fpiHorizon = control.checkpointLsn();
        pipeline = new CommitPipeline(wal, rw.writeLock(), lastLsn, options.asyncFlushMillis(),
                () -> pool.evictIfNeeded(this::walSyncForEviction), seams, r.walEnd(), durablePoint);
        if (r.needsBootstrap()) {
            try {
                bootstrap();
            } catch (RuntimeException e) {
                shutDownFiles(false);
                throw e;
            }
        }
        background = Executors.newSingleThreadScheduledExecutor(t -> {
            Thread th = new Thread(t, "walship-checkpointer");
            th.setDaemon(true);
            return th;
        });
        long tick = Math.max(10, Math.min(1_000, options.checkpointInterval().toMillis() / 4));
        background.scheduleWithFixedDelay(this::maybeCheckpoint, tick, tick, TimeUnit.MILLISECONDS);
    }

    /** Opens (or creates) the store in {@code dir} with default options. */
    public static Store open(Path dir) {
        return open(dir, StoreOptions.defaults());
    }

    public static Store open(Path dir, StoreOptions options) {
        return open(dir, options, WalSeams.defaults());
    }

    /** Opens with stand-ins for the WAL's sync, disk space and clock (tests). */
    static Store open(Path dir, StoreOptions options, WalSeams seams) {
        return new Store(dir.toAbsolutePath(), options, seams);
    }

    // ---- creation and recovery --------------------------------------------------------------

    /**
     * LSN 1 creates the meta page and the empty root leaf, so a replay from nothing rebuilds all.
     * Also run when a store's creation was cut short before LSN 1 was durable ({@link Recovery}).
     */
    private void bootstrap() {
        pipeline.execute(() -> {
            PageTxn txn = new PageTxn(pool, snapshots);
            txn.addNewPage(MetaPage.PAGE_NO, PageFormat.TYPE_META);
            MetaPage.init(txn.write(MetaPage.PAGE_NO), control.systemId(), 1, 2);
            txn.addNewPage(1, PageFormat.TYPE_LEAF);
            return commitLocked(txn);
        }, true);
    }

    // ---- writes -----------------------------------------------------------------------------

    public long put(byte[] key, byte[] value) {
        return put(key, value, Durability.DURABLE);
    }

    public long put(byte[] key, byte[] value, Durability durability) {
        return write(new WriteBatch().put(key, value), durability);
    }

    public long delete(byte[] key) {
        return delete(key, Durability.DURABLE);
    }

    public long delete(byte[] key, Durability durability) {
        return write(new WriteBatch().delete(key), durability);
    }

    public long write(WriteBatch batch) {
        return write(batch, Durability.DURABLE);
    }

    /**
     * Applies the batch atomically and returns its commit LSN once it is applied and, if
     * {@code DURABLE}, synced. A batch that changes nothing (deleting absent keys, rewriting equal
     * values) writes no entry and returns the current LSN.
     *
     * @throws BatchTooLargeException over a limit of {@link WriteBatch}; nothing applied
     * @throws StorageFullException no disk space for the WAL; nothing applied, the store goes on
     * @throws StoreFailedException the store has stopped (a failed WAL sync or a broken append);
     *                              reopen it
     */
    public long write(WriteBatch batch, Durability durability) {
        if (batch.size() == 0) {
            throw new IllegalArgumentException("empty batch");
        }
        batch.checkLimits();
        checkOpen();
        if (control.standby()) {
            throw new WalshipException("writes refused: " + dir + " is a standby restored from the archive (timeline "
                    + control.timeline() + "); 'walship promote' opens it for writes on a new timeline");
        }
        if (refusingForArchiveLag) {
            throw new WalshipException("writes refused: the archive is " + (archiveLagBytes >> 20) + " MiB behind, over the"
                    + " bound of " + (options.maxArchiveLagBytes() >> 20) + " MiB (policy refuse-writes); start or fix the shipper");
        }
        return pipeline.execute(() -> applyBatch(batch), durability == Durability.DURABLE);
    }

    /** Runs on the writer thread under the write lock. */
    private long applyBatch(WriteBatch batch) {
        checkOpen();
        PageTxn txn = new PageTxn(pool, snapshots);
        BTree tree = new BTree(txn);
        try {
            for (WriteBatch.Op op : batch.ops()) {
                if (op.isDelete()) {
                    tree.delete(op.key());
                } else {
                    tree.put(op.key(), op.value());
                }
            }
        } catch (RuntimeException e) {
            txn.rollback();
            throw e;
        }
        return txn.isEmpty() ? lastLsn : commitLocked(txn);
    }

    /**
     * Turns the transaction into the next LSN's WAL entry and appends it. If the entry is too
     * large, or the append fails, the transaction is rolled back completely (pages, dirty flags
     * and page LSNs as before) and the LSN is not used; an append that broke half-way has also
     * stopped the store ({@link StoreFailedException}).
     */
    private long commitLocked(PageTxn txn) {
        long lsn = lastLsn + 1;
        long now = nowMicros();
        long time = Math.max(now, lastCommitMicros);
        List<PageChange> changes;
        byte[] entry;
        try {
            changes = txn.seal(lsn, fpiHorizon);
            entry = EntryCodec.encode(lsn, control.timeline(), time, changes);
            if (entry.length > seams.maxEntryBytes()) {
                throw new BatchTooLargeException("the batch's WAL entry would be " + entry.length + " bytes, over the limit"
                        + " of " + seams.maxEntryBytes() + " bytes; split it into smaller batches");
            }
            pipeline.append(lsn, entry);
        } catch (RuntimeException | Error e) {
            txn.rollback();
            throw e;
        }
        lastLsn = lsn;
        lastCommitMicros = time;
        commits.incrementAndGet();
        walBytesSinceCheckpoint.addAndGet(entry.length);
        countWalBytes(lsn, entry.length);
        for (PageChange c : changes) {
            if (c.fullPage()) {
                fullPageImages.incrementAndGet();
            }
        }
        return lsn;
    }

    /** Writer thread: keeps the LSN -> cumulative WAL bytes samples (every lagSampleBytes) the lag is read from. */
    private void countWalBytes(long lsn, int bytes) {
        long total = walBytesTotal + bytes;
        walBytesTotal = total;
        if (total - lastSampleBytes >= lagSampleBytes || walBytesAtLsn.isEmpty()) {
            walBytesAtLsn.put(lsn, total);
            lastSampleBytes = total;
        }
    }

    /**
     * How far the archive is behind ({@code marks/archived}), and the policy past the bound.
     * Runs on the checkpointer's tick. Without an archived mark, archiving has not started and
     * there is no lag to bound.
     */
    private void updateArchiveLag() {
        OptionalLong archived = marks.archived();
        if (archived.isEmpty()) {
            archiveLagBytes = 0;
            archiveLagLsns = 0;
            refusingForArchiveLag = false;
            return;
        }
        long a = archived.getAsLong();
        long last = lastLsn;
        if (a >= last) {
            archiveLagBytes = 0;
            archiveLagLsns = 0;
        } else {
            java.util.Map.Entry<Long, Long> base = walBytesAtLsn.floorEntry(a);
            archiveLagBytes = walBytesTotal - (base == null ? 0 : base.getValue());
            archiveLagLsns = last - a;
            if (base != null) {
                walBytesAtLsn.headMap(base.getKey(), false).clear();
            }
        }
        boolean over = archiveLagBytes > options.maxArchiveLagBytes();
        boolean refuse = over && options.archiveLagPolicy() == StoreOptions.ArchiveLagPolicy.REFUSE_WRITES;
        if (over && System.nanoTime() - lastLagLogNanos > 60_000_000_000L) {
            lastLagLogNanos = System.nanoTime();
            LOG.error("the archive is {} MiB ({} commits) behind, over the bound of {} MiB: {}; is the shipper running?",
                    archiveLagBytes >> 20, archiveLagLsns, options.maxArchiveLagBytes() >> 20,
                    refuse ? "REFUSING WRITES until it catches up" : "writes go on and the WAL is kept");
        }
        if (refusingForArchiveLag && !refuse) {
            LOG.info("the archive caught up ({} MiB behind); accepting writes again", archiveLagBytes >> 20);
        }
        refusingForArchiveLag = refuse;
    }

    private void walSyncForEviction(long pageLsn) {
        if (checkpointRunning) {
            throw new IllegalStateException("dirty eviction during a checkpoint");
        }
        pipeline.awaitDurable(pageLsn);
    }

    private static long nowMicros() {
        Instant now = Instant.now();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    // ---- reads ------------------------------------------------------------------------------

    /** A value and the LSN of the state it was read from. {@code value} is null if absent. */
    public record Read(byte[] value, long lsn) {
    }

    public byte[] get(byte[] key) {
        return read(key).value();
    }

    public Read read(byte[] key) {
        BTree.checkKey(key);
        return underReadLock(() -> new Read(new BTree(this::readPage).get(key), lastLsn));
    }

    /**
     * Visits pairs with {@code from <= key < to} in key order and returns the LSN the scan
     * reflects. The scan runs on a snapshot, so writers are not held up while it runs.
     */
    public long scan(byte[] from, byte[] to, BTree.Visitor visitor) {
        try (Snapshot s = snapshot()) {
            new BTree(s.pages()).scan(from, to, visitor);
            return s.lsn();
        }
    }

    /** The digest of the whole content, computed on a snapshot. */
    public StateDigest digest() {
        try (Snapshot s = snapshot()) {
            return StateDigest.of(s.pages(), s.lsn());
        }
    }

    private byte[] readPage(int pageNo) {
        return pool.frame(pageNo).data;
    }

    private <T> T underReadLock(Supplier<T> action) {
        rw.readLock().lock();
        try {
            checkOpen();
            return action.get();
        } finally {
            rw.readLock().unlock();
        }
    }

    /** A point-in-time image of all pages; writers pause only to register it. Close it when done. */
    public Snapshot snapshot() {
        rw.writeLock().lock();
        try {
            checkOpen();
            int pageCount = MetaPage.pageCount(pool.frame(MetaPage.PAGE_NO).data);
            Snapshot s = new Snapshot(snapshotSource, lastLsn, control.timeline(), control.systemId(), pageCount,
                    lastCommitMicros);
            snapshots.add(s);
            return s;
        } finally {
            rw.writeLock().unlock();
        }
    }

    private final class SnapshotSource implements Snapshot.Source {
        @Override
        public <T> T underReadLock(Supplier<T> action) {
            return Store.this.underReadLock(action);
        }

        @Override
        public byte[] currentPage(int pageNo) {
            return pool.frame(pageNo).data.clone();
        }

        @Override
        public void release(Snapshot snapshot) {
            snapshots.remove(snapshot);
        }
    }

    // ---- replication apply ------------------------------------------------------------------

    /**
     * Applies an entry received from a leader (or the archive): it must carry the next LSN. The
     * entry goes to this store's own WAL first, then to the pages, so a replica recovers like a
     * leader.
     */
    public void apply(WalEntry entry, Durability durability) {
        checkOpen();
        pipeline.execute(() -> {
            checkOpen();
            if (entry.lsn() != lastLsn + 1) {
                throw new IntegrityException("cannot apply LSN " + Lsn.format(entry.lsn()) + ": this store is at "
                        + Lsn.format(lastLsn) + (entry.lsn() > lastLsn + 1 ? " (gap)" : " (already applied)"));
            }
            byte[] bytes = EntryCodec.encode(entry.lsn(), entry.timeline(), entry.commitTimeMicros(), entry.changes());
            pipeline.append(entry.lsn(), bytes); // the log first: a failed append leaves the pages untouched
            try {
                Recovery.redo(pool, entry);
            } catch (RuntimeException e) {
                StoreFailedException f = new StoreFailedException("LSN " + Lsn.format(entry.lsn()) + " is in the WAL but"
                        + " could not be applied to the pages (" + e.getMessage() + "); the store has stopped", e);
                pipeline.failStop(f);
                throw f;
            }
            lastLsn = entry.lsn();
            lastCommitMicros = Math.max(lastCommitMicros, entry.commitTimeMicros());
            walBytesSinceCheckpoint.addAndGet(bytes.length);
            countWalBytes(entry.lsn(), bytes.length);
            return entry.lsn();
        }, durability == Durability.DURABLE);
    }

    // ---- checkpoints and retention ----------------------------------------------------------

    private void maybeCheckpoint() {
        if (pipeline.failure() != null) {
            return; // stopped: nothing may reach the page file any more
        }
        try {
            updateArchiveLag();
            boolean byBytes = walBytesSinceCheckpoint.get() >= options.checkpointWalBytes();
            boolean byTime = System.nanoTime() - lastCheckpointNanos >= options.checkpointInterval().toNanos();
            if (!closed && (byBytes || byTime)) {
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
    public long checkpoint() {
        synchronized (checkpointMutex) {
            List<BufferPool.Frame> dirty;
            byte[][] copies;
            long redo;
            rw.writeLock().lock();
            try {
                checkOpen();
                redo = lastLsn;
                dirty = pool.dirtyFrames();
                if (dirty.isEmpty() && redo == control.checkpointLsn()) {
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
                    checkpointRunning = true;
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
                pipeline.awaitDurable(redo);
                for (int i = 0; i < copies.length; i++) {
                    pageFile.writeSealed(dirty.get(i).pageNo, copies[i]);
                }
                pageFile.sync();
                ControlFile next = control.withCheckpoint(redo, lastCommitMicros);
                next.write(dir);
                control = next;
                checkpoints.incrementAndGet();
                lastCheckpointNanos = System.nanoTime();
            } finally {
                checkpointRunning = false;
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

    // ---- status -----------------------------------------------------------------------------

    public Path dir() {
        return dir;
    }

    public long lastLsn() {
        return lastLsn;
    }

    public long durableLsn() {
        return pipeline.durableLsn();
    }

    public int timeline() {
        return control.timeline();
    }

    public long systemId() {
        return control.systemId();
    }

    public long checkpointLsn() {
        return control.checkpointLsn();
    }

    /** A standby takes entries through {@link #apply} only, never writes of its own. */
    public boolean standby() {
        return control.standby();
    }

    public WalMarks marks() {
        return marks;
    }

    /**
     * A reader over this store's own WAL (shares the open queue). It returns only durable entries:
     * never one past {@link #durableLsn()}. Close it when done.
     */
    public WalReader walReader() {
        return new WalReader(wal, pipeline::durableLsn);
    }

    /** A handle on a registration; closing it ends the registration. */
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Waits until the WAL is durable up to {@code lsn} (asking for a sync if it is appended but
     * not synced yet), for at most {@code timeout}. Returns whether it is.
     *
     * @throws StoreFailedException if the store stopped first
     * @throws WalshipException if the store was closed first
     */
    public boolean awaitDurable(long lsn, Duration timeout) {
        if (pipeline.durableLsn() >= lsn) {
            return true;
        }
        pipeline.checkHealthy();
        if (lsn <= lastLsn) {
            pipeline.requestSync(lsn);
        }
        return pipeline.durable().await(lsn, timeout.toNanos());
    }

    /**
     * Calls {@code listener} with the new durable LSN after each WAL sync that moves it, until the
     * returned registration is closed: how WAL senders wake up without polling. Calls come from
     * one notifier thread, in increasing LSN order; LSNs that moved on while the listener was busy
     * are coalesced (the listener sees the newest). The listener must not block for long: it
     * holds up later calls (never the sync itself). Exceptions are logged and ignored.
     */
    public Registration onDurable(LongConsumer listener) {
        Objects.requireNonNull(listener, "listener");
        return pipeline.durable().listen(listener);
    }

    /**
     * Why the store has stopped, if it has: a WAL sync that failed, or an append that broke
     * half-way. Once present it stays; every write and read fails with it until the store is
     * closed and opened again, which recovers every acknowledged commit. For health checks.
     */
    public Optional<StoreFailedException> failure() {
        return Optional.ofNullable(pipeline.failure());
    }

    public StoreStats stats() {
        return new StoreStats(lastLsn, pipeline.durableLsn(), commits.get(), pipeline.entriesAppended(),
                pipeline.bytesAppended(), pipeline.syncs(), fullPageImages.get(), checkpoints.get(),
                control.checkpointLsn(), pool.size(), pool.evictions(), archiveLagBytes, archiveLagLsns);
    }

    private void checkOpen() {
        if (closed) {
            throw new WalshipException("store " + dir + " is closed");
        }
        StoreFailedException f = pipeline.failure();
        if (f != null) {
            // the pages hold commits that were never acknowledged and may not survive a reopen
            throw new StoreFailedException(f.getMessage(), f.getCause());
        }
    }

    /** Checkpoints, stops the WAL writer and releases the directory. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        // let a running background checkpoint finish: interrupting it would close the page file
        // channel under it (FileChannel is interruptible) and fail the final checkpoint too
        background.shutdown();
        try {
            if (!background.awaitTermination(5, TimeUnit.MINUTES)) {
                LOG.warn("a background checkpoint of {} is still running after 5 minutes", dir);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // an interrupt pending on the closing thread would likewise close the page file mid-write
        boolean interrupted = Thread.interrupted();
        try {
            checkpoint();
        } catch (RuntimeException e) {
            LOG.error("final checkpoint of {} failed; recovery will redo from the last one: {}", dir, e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        rw.writeLock().lock();
        try {
            closed = true;
        } finally {
            rw.writeLock().unlock();
        }
        shutDownFiles(true);
    }

    /**
     * Stops the WAL writer (syncing what it appended) and closes every file, then the lock. A
     * clean close, with everything synced, says so in the durable point: recovery can then trust
     * Chronicle's own records in the WAL files.
     */
    private void shutDownFiles(boolean clean) {
        try {
            pipeline.close();
            if (!pipeline.stopped()) {
                // a sync still hangs (a dead disk): its thread may yet publish into the durable
                // point's mapping, which must not be unmapped under it; the OS cleans up at exit
                LOG.error("the WAL threads of {} did not stop within 30 s; closing without them", dir);
            } else if (clean && pipeline.failure() == null && pipeline.durableLsn() == lastLsn) {
                durablePoint.closeCleanly(lastLsn);
            } else {
                durablePoint.close();
            }
            wal.close();
            pageFile.close();
        } finally {
            releaseLock();
        }
    }

    /**
     * Test hook: abandons the store as a crash would, after the WAL is synced but without a
     * checkpoint, so the next open must redo from the last checkpoint.
     */
    void abandonForTesting() {
        background.shutdownNow();
        closed = true;
        shutDownFiles(false);
    }

    /** Test hook: the page as it is in memory now (a copy). */
    byte[] pageForTesting(int pageNo) {
        return underReadLock(() -> pool.frame(pageNo).data.clone());
    }

    int pageCountForTesting() {
        return underReadLock(() -> MetaPage.pageCount(pool.frame(MetaPage.PAGE_NO).data));
    }

    private void releaseLock() {
        try {
            lock.close();
        } catch (UncheckedIOException e) {
            LOG.warn("releasing the lock on {}: {}", dir, e.getMessage());
        }
    }
}
