package io.walship.wal;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
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
 * <p>Thread-safe. Every commit runs under the write lock and the {@link CommitPipeline}'s append
 * lock, one at a time: on its writer thread, or, when nothing else is queued, on the committer's
 * own thread; it is synced by the pipeline's sync thread together with whatever else was committed
 * meanwhile, or by a lone durable committer itself; callers wait without holding any lock. Readers share the read lock. Checkpoints and
 * WAL retention are the {@link Checkpointer}'s, the archive-lag bound the {@link ArchiveLagMonitor}'s.
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
    private final Snapshots snapshotRegistry = new Snapshots(snapshots, rw, this::checkOpen, this::readPage);
    private final Checkpointer checkpointer;
    private final ArchiveLagMonitor archiveLag;

    // guarded by rw write lock (volatile for lock-free status reads)
    private volatile ControlFile control;
    private volatile long lastLsn;
    private volatile long lastCommitMicros;
    private volatile boolean closed;
    private final Object closeLock = new Object();

    private final List<LongConsumer> appliedListeners = new CopyOnWriteArrayList<>();
    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong fullPageImages = new AtomicLong();

    private Store(Path dir, StoreOptions options, WalSeams seams) {
        this.dir = dir;
        this.options = options;
        this.seams = seams;
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
        archiveLag = new ArchiveLagMonitor(marks, options);
        checkpointer = new Checkpointer(dir, options, new CheckpointHost(), rw, pool, pageFile, wal, marks);
        checkpointer.recovered(r.latestHorizon(), r.checkpointIsHorizon());
        pool.requireLock(rw); // recovery is over: from now on the eviction rule is checked
        pipeline = new CommitPipeline(wal, rw.writeLock(), lastLsn, options.asyncFlushMillis(),
                () -> pool.evictToCapacity(checkpointer.evictionWriteBack()), seams, r.walEnd(), durablePoint);
        if (r.needsBootstrap()) {
            try {
                bootstrap();
            } catch (RuntimeException e) {
                shutDownFiles(false);
                throw e;
            }
        }
        checkpointer.start();
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

    /**
     * Applies an entry's physical changes to the pool (redo), and tells the checkpointer. Write
     * lock. Like a write transaction, it first hands the before-image of each page it changes to
     * the open snapshots: redo changes frames in place.
     */
    private void applyToPages(WalEntry e) {
        if (!snapshots.isEmpty()) {
            preserveForSnapshots(e);
        }
        Recovery.redo(pool, e);
        checkpointer.entryApplied(e);
    }

    private void preserveForSnapshots(WalEntry e) {
        Set<Integer> seen = new HashSet<>();
        for (PageChange c : e.changes()) {
            int pageNo = c.pageNo();
            if (!seen.add(pageNo)) {
                continue;
            }
            byte[] copy = null;
            for (Snapshot s : snapshots) {
                if (s.wants(pageNo)) {
                    if (copy == null) {
                        copy = pool.frame(pageNo).data.clone();
                    }
                    s.preserve(pageNo, copy);
                }
            }
        }
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
            throw new WritesRefusedException("writes refused: " + dir + " is a standby restored from the archive (timeline "
                    + control.timeline() + "); 'walship promote' opens it for writes on a new timeline");
        }
        archiveLag.checkWritesAllowed();
        return pipeline.execute(() -> applyBatch(batch), durability == Durability.DURABLE);
    }

    /** Runs under the write lock and the pipeline's append lock (the writer thread, or the committer's). */
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
        if (txn.isEmpty()) {
            txn.release();
            return lastLsn;
        }
        return commitLocked(txn);
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
        long horizon = checkpointer.horizonToRecord();
        try {
            changes = txn.seal(lsn, checkpointer.fpiHorizon());
            entry = EntryCodec.encode(lsn, control.timeline(), time, horizon, changes, options.walCompression());
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
        checkpointer.sealedEntryAppended(horizon, entry.length);
        archiveLag.countWalBytes(lsn, entry.length);
        for (PageChange c : changes) {
            if (c.fullPage()) {
                fullPageImages.incrementAndGet();
            }
        }
        return lsn;
    }

    /** Commit time from the options' clock, in µs since the epoch. */
    private long nowMicros() {
        Instant now = options.clock().instant();
        return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
    }

    // ---- reads ------------------------------------------------------------------------------

    /**
     * A value and the LSN of the state it was read from. {@code value} is null if absent.
     * {@code pageLsn} is the highest page LSN the lookup touched ({@link ReadLsn}): the answer is
     * the same in every state from {@code pageLsn} to {@code lsn}, so only commits up to
     * {@code pageLsn} are visible in it.
     */
    public record Read(byte[] value, long lsn, long pageLsn) {
        /** A read that depends on everything up to {@code lsn} (no page LSNs known). */
        public Read(byte[] value, long lsn) {
            this(value, lsn, lsn);
        }
    }

    public byte[] get(byte[] key) {
        return read(key).value();
    }

    public Read read(byte[] key) {
        BTree.checkKey(key);
        return underReadLock(() -> {
            ReadLsn seen = new ReadLsn();
            byte[] value = new BTree(seen.tracking(this::readPage)).get(key);
            return new Read(value, lastLsn, Math.min(seen.lsn(), lastLsn));
        });
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

    /** A page for a reader holding the read lock; keeps the pool at its capacity. */
    private byte[] readPage(int pageNo) {
        return pool.read(pageNo, checkpointer.evictionWriteBack());
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

    /**
     * A point-in-time image of all pages at the last LSN, returned once the WAL is durable up to
     * it: it never describes a state a crash could take back. Writers pause only to register it.
     * It is bounded ({@link StoreOptions#withSnapshotLimits}); close it when done.
     *
     * @throws SnapshotAbandonedException from its reads, if it outlives its bounds
     */
    public Snapshot snapshot() {
        Snapshot s;
        rw.writeLock().lock();
        try {
            checkOpen();
            int pageCount = MetaPage.pageCount(readPage(MetaPage.PAGE_NO));
            s = new Snapshot(snapshotRegistry, lastLsn, control.timeline(), control.systemId(), pageCount,
                    lastCommitMicros, Snapshot.Limits.of(options));
            snapshotRegistry.add(s);
        } finally {
            rw.writeLock().unlock();
        }
        try {
            pipeline.awaitDurable(s.lsn());
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    // ---- replication apply ------------------------------------------------------------------

    /**
     * Applies an entry received from a leader (or the archive): it must carry the next LSN. The
     * entry goes to this store's own WAL first, then to the pages, so a replica recovers like a
     * leader. Same as {@link #applyAll} with one entry.
     */
    public void apply(WalEntry entry, Durability durability) {
        applyAll(List.of(entry), durability);
    }

    /**
     * Applies entries received from a leader (or the archive) as one unit of work on the writer
     * thread: each goes to this store's own WAL first, then to the pages, in order; with
     * {@code DURABLE} the call returns once one WAL sync covers them all (a batch costs one sync,
     * not one per entry). The entries must carry consecutive LSNs starting right after
     * {@link #lastLsn()}; that is checked for the whole list before anything is written, so a gap
     * or a repeated LSN applies nothing ({@link IntegrityException}). Entries are applied whole
     * and in order, so readers only ever see a prefix of the leader's history. Afterwards the
     * {@link #onApplied} listeners are called on this thread — also when the call fails half-way
     * (no disk space for an entry: the entries before it stay applied). An entry decoded from
     * bytes ({@link EntryCodec#decode}) goes to the WAL as those very bytes ({@link WalEntry#encoded}),
     * so this store's WAL holds what the leader's does. Returns the last LSN applied.
     *
     * @throws StoreFailedException if an entry reached the WAL but not the pages (the store stops)
     */
    public long applyAll(List<WalEntry> entries, Durability durability) {
        Objects.requireNonNull(entries, "entries");
        if (entries.isEmpty()) {
            return lastLsn;
        }
        checkOpen();
        long start = lastLsn;
        long last;
        try {
            last = pipeline.execute(() -> {
                checkOpen();
                long expect = lastLsn + 1;
                for (WalEntry e : entries) {
                    if (e.lsn() != expect) {
                        throw new IntegrityException("cannot apply LSN " + Lsn.format(e.lsn()) + ": this store expects "
                                + Lsn.format(expect) + (e.lsn() > expect ? " (gap)" : " (already applied)"));
                    }
                    expect++;
                }
                for (WalEntry entry : entries) {
                    // the bytes received, not the changes encoded again: compressed images would not come out
                    // the same everywhere, and this WAL must be the leader's byte for byte
                    byte[] bytes = EntryCodec.encode(entry);
                    pipeline.append(entry.lsn(), bytes); // the log first: a failed append leaves the pages untouched
                    try {
                        applyToPages(entry);
                    } catch (RuntimeException e) {
                        StoreFailedException f = new StoreFailedException("LSN " + Lsn.format(entry.lsn()) + " is in the WAL"
                                + " but could not be applied to the pages (" + e.getMessage() + "); the store has stopped", e);
                        pipeline.failStop(f);
                        throw f;
                    }
                    lastLsn = entry.lsn();
                    lastCommitMicros = Math.max(lastCommitMicros, entry.commitTimeMicros());
                    checkpointer.upstreamEntryAppended(bytes.length);
                    archiveLag.countWalBytes(entry.lsn(), bytes.length);
                }
                return lastLsn;
            }, durability == Durability.DURABLE);
        } catch (RuntimeException e) {
            // cut short (no disk space for entry k): entries before it are applied and visible, and
            // reads waiting for one of them must hear of it now, not at the next whole batch
            long reached = lastLsn;
            if (reached > start) {
                announceApplied(reached);
            }
            throw e;
        }
        announceApplied(last);
        return last;
    }

    private void announceApplied(long last) {
        for (LongConsumer l : appliedListeners) {
            try {
                l.accept(last);
            } catch (RuntimeException e) {
                LOG.warn("applied-LSN listener {} failed at LSN {}: {}", l, Lsn.format(last), e.toString());
            }
        }
    }

    /**
     * Calls {@code listener} with the new last LSN each time {@link #apply}/{@link #applyAll} has
     * made entries visible to readers, until the registration is closed: how a follower's reads
     * that wait for an LSN ({@code min_lsn}) wake up without polling. Calls come from the applying
     * thread, after the entries are applied; the listener must be quick (hand work to another
     * thread), since the next batch waits for it. Exceptions are logged and ignored.
     */
    public Registration onApplied(LongConsumer listener) {
        Objects.requireNonNull(listener, "listener");
        appliedListeners.add(listener);
        return () -> appliedListeners.remove(listener);
    }

    /** Commit time (µs since the epoch) of the last entry committed or applied. */
    public long lastCommitMicros() {
        return lastCommitMicros;
    }

    // ---- checkpoints and retention ----------------------------------------------------------

    /**
     * Writes every dirty page back and records the checkpoint LSN, then deletes WAL that neither
     * recovery, the archive nor a registered consumer needs (see {@link Checkpointer}). Returns the
     * checkpoint LSN.
     */
    public long checkpoint() {
        return checkpointer.checkpoint();
    }

    /** The options this store was opened with. */
    public StoreOptions options() {
        return options;
    }

    /** What the checkpointer reads and updates in this store. */
    private final class CheckpointHost implements Checkpointer.Host {
        @Override
        public long lastLsn() {
            return lastLsn;
        }

        @Override
        public long lastCommitMicros() {
            return lastCommitMicros;
        }

        @Override
        public ControlFile control() {
            return control;
        }

        @Override
        public void control(ControlFile next) {
            control = next;
        }

        @Override
        public void checkOpen() {
            Store.this.checkOpen();
        }

        @Override
        public boolean isClosed() {
            return closed;
        }

        @Override
        public void awaitDurable(long lsn) {
            CommitPipeline p = pipeline;
            if (p != null) { // null while recovery replays WAL that is already on disk
                p.awaitDurable(lsn);
            }
        }

        @Override
        public boolean failed() {
            return pipeline != null && pipeline.failure() != null;
        }

        @Override
        public void failStop(StoreFailedException f) {
            pipeline.failStop(f);
        }

        @Override
        public void onTick() {
            snapshotRegistry.checkAges();
            archiveLag.update(lastLsn);
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

    /**
     * A standby follows its leader onto a newer timeline (the leader was promoted, or this follower
     * switched to one that was): the control file names {@code newTimeline} from now on, durably,
     * before any entry of it is applied. Only forward, only on a standby, and only while this store
     * has nothing past {@code forkLsn}, the last LSN the old and the new timeline share (else its
     * WAL has diverged and must be rewound, which this does not do).
     */
    public void switchTimeline(int newTimeline, long forkLsn) {
        checkOpen();
        if (!standby()) {
            throw new WalshipException(dir + " takes writes on timeline " + timeline() + "; only a standby follows a"
                    + " leader onto a new timeline");
        }
        if (Integer.compareUnsigned(newTimeline, timeline()) <= 0) {
            throw new WalshipException("cannot switch " + dir + " from timeline " + timeline() + " to timeline "
                    + Integer.toUnsignedString(newTimeline) + ": timelines only move forward");
        }
        if (lastLsn > forkLsn) {
            throw new WalshipException(dir + " has WAL up to LSN " + Lsn.format(lastLsn) + ", past LSN "
                    + Lsn.format(forkLsn) + " where timeline " + Integer.toUnsignedString(newTimeline) + " forked from"
                    + " timeline " + timeline() + ": it has diverged (rewind or rebuild it)");
        }
        checkpointer.rewriteControl(c -> c.onTimeline(newTimeline));
        LOG.info("{} follows timeline {} from now on (forked after LSN {})", dir, Integer.toUnsignedString(newTimeline),
                Lsn.format(forkLsn));
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
     * @throws StoreClosedException if the store was closed first
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
     * Like {@link #onDurable}, but {@code waker} is called on the thread that synced the WAL (its
     * sync thread, or a lone durable committer leading its own sync) right after
     * each sync that moves the durable LSN, one thread hand-off sooner: it must only unpark
     * threads ({@link java.util.concurrent.locks.LockSupport#unpark}) — no locks, no I/O, nothing
     * that blocks, or it holds up every durable commit. How WAL senders that a semi-sync commit
     * waits for are woken. Exceptions are logged and ignored.
     */
    public Registration onDurableWake(LongConsumer waker) {
        Objects.requireNonNull(waker, "waker");
        return pipeline.durable().wakeOnAdvance(waker);
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
        BufferPool.Stats p = pool.stats();
        return new StoreStats(lastLsn, pipeline.durableLsn(), commits.get(), pipeline.entriesAppended(),
                pipeline.bytesAppended(), pipeline.syncs(), fullPageImages.get(), checkpointer.checkpoints(),
                control.checkpointLsn(), p.pages(), p.evictions(), archiveLag.lagBytes(), archiveLag.lagLsns(),
                p.capacity(), p.dirtyPages(), p.hits(), p.misses(), p.evictionWrites(), p.checkpointWrites(),
                snapshotRegistry.openCount(), snapshotRegistry.preservedBytes(), snapshotRegistry.abandonedCount(),
                checkpointer.latestHorizon());
    }

    private void checkOpen() {
        if (closed) {
            throw new StoreClosedException("store " + dir + " is closed");
        }
        CommitPipeline p = pipeline;
        StoreFailedException f = p == null ? null : p.failure();
        if (f != null) {
            // the pages hold commits that were never acknowledged and may not survive a reopen
            throw new StoreFailedException(f.getMessage(), f.getCause());
        }
    }

    /** Checkpoints, stops the WAL writer and releases the directory. */
    @Override
    public void close() {
        // one closer at a time: a second, concurrent close waits for the first and then returns,
        // instead of running shutDownFiles again on unmapped files
        synchronized (closeLock) {
            closeOnce();
        }
    }

    private void closeOnce() {
        if (closed) {
            return;
        }
        // let a running background checkpoint finish: interrupting it would close the page file
        // channel under it (FileChannel is interruptible) and fail the final checkpoint too
        checkpointer.stop();
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
        Throwable earlier = null;
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
        } catch (RuntimeException | Error e) {
            earlier = e;
            throw e;
        } finally {
            try {
                marks.close(); // even when a close above failed: no open mark outlives the store's lock
            } catch (RuntimeException e) {
                if (earlier == null) {
                    throw e;
                }
                earlier.addSuppressed(e); // the first failure is thrown, this one is not lost
            } finally {
                releaseLock();
            }
        }
    }

    /**
     * Test hook: abandons the store as a crash would, after the WAL is synced but without a
     * checkpoint, so the next open must redo from the last checkpoint.
     */
    void abandonForTesting() {
        checkpointer.stopNow();
        closed = true;
        shutDownFiles(false);
    }

    /** Test hook: the page as it is in memory now (a copy). */
    byte[] pageForTesting(int pageNo) {
        return underReadLock(() -> readPage(pageNo).clone());
    }

    Checkpointer checkpointerForTesting() {
        return checkpointer;
    }

    /** How the page file is used now (walks every node: a bench and test tool, not for a hot path). */
    public PageSpace pageSpace() {
        return underReadLock(() -> new BTree(this::readPage).space());
    }

    /** Test hook: {@link BTree#check} on the pages as they are now. */
    PageSpace checkTreeForTesting() {
        return underReadLock(() -> new BTree(this::readPage).check());
    }

    int pageCountForTesting() {
        return underReadLock(() -> MetaPage.pageCount(readPage(MetaPage.PAGE_NO)));
    }

    BufferPool poolForTesting() {
        return pool;
    }

    private void releaseLock() {
        try {
            lock.close();
        } catch (UncheckedIOException e) {
            LOG.warn("releasing the lock on {}: {}", dir, e.getMessage());
        }
    }
}
