package io.walship.wal;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import net.openhft.chronicle.queue.ExcerptTailer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opening a data directory for writing: creating a store, or recovering one after a crash.
 *
 * <p><b>Creation</b> writes {@code control} first (it marks the directory as a store), then the
 * durable point, {@code pages.dat} and {@code wal/}, and syncs the directories. The store exists
 * once LSN 1 (the meta page and the empty root) is durable; a store whose control file is there
 * but whose WAL holds no durable LSN 1 — a crash in between — is simply created again (same
 * system id) by the caller ({@link Result#needsBootstrap}).
 *
 * <p><b>Recovery</b> redoes the WAL from the checkpoint into the page pool and finds the end of
 * the WAL (docs/FORMAT.md, "End of the WAL"). The durable point {@code D} is the higher of the
 * durable-point file and the checkpoint LSN: every entry up to {@code D} was synced. Reading
 * stops at the first entry that is unreadable or out of sequence:
 * <ul>
 *   <li>at or before {@code D}: durable data is damaged — refuse to open, naming the LSN;</li>
 *   <li>after {@code D}: a torn tail (a crash while a group was being synced) — everything from
 *       there on is discarded, never acknowledged; {@link TornTailRepair} cuts it off;</li>
 *   <li>the WAL ends before {@code D}: durable entries are missing — refuse.</li>
 * </ul>
 * A clean end is checked too ({@link ChronicleTail}): stray bytes or an unfinished document past
 * the last entry are cut off the same way, and so is the last WAL file's tail when the previous
 * writer did not close the store and the machine has restarted since (Chronicle's in-place
 * records may then point past what reached the disk). Then the WAL that is kept is synced, and
 * the durable point is rewritten with the next WAL generation (so that readers in other processes
 * reopen the queue) before the store takes any write. Pages are written back during redo only
 * after the WAL they come from is synced.
 *
 * <p>Runs once per open, on the opening thread. Not thread-safe.
 */
final class Recovery {
    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);

    /** What the store is opened with. {@code walEnd} may be null (unknown, or no cycle file yet). */
    record Result(DirectoryLock lock, ControlFile control, PageFile pageFile, WalLog wal, BufferPool pool,
                  DurablePoint durablePoint, long lastLsn, long lastCommitMicros, WalLog.End walEnd,
                  boolean needsBootstrap, long latestHorizon, boolean checkpointIsHorizon) {
    }

    /** Where reading stopped, and why (null fields: a clean end). */
    private record Stop(long expectedLsn, WalLog.Located doc, String reason) {
        String describe() {
            return "the WAL entry expected at LSN " + Lsn.format(expectedLsn) + " (queue index "
                    + Long.toHexString(doc.index()) + ", " + doc.file() + " byte " + doc.start() + "): " + reason;
        }
    }

    private final Path dir;
    private final StoreOptions options;
    private final WalSeams seams;
    private final ControlFile control;
    private final BufferPool pool;
    private final DurablePoint point;
    private WalLog wal;
    private final Set<Path> unsynced = new LinkedHashSet<>();
    private long lastLsn;
    private long lastCommitMicros;
    private WalLog.End end;
    /** The newest checkpoint horizon in the replayed entries, and whether one equals the checkpoint. */
    private long latestHorizon = Lsn.NONE;
    private boolean checkpointIsHorizon;

    private Recovery(Path dir, StoreOptions options, WalSeams seams, ControlFile control, BufferPool pool,
                     DurablePoint point, WalLog wal) {
        this.dir = dir;
        this.options = options;
        this.seams = seams;
        this.control = control;
        this.pool = pool;
        this.point = point;
        this.wal = wal;
        this.lastLsn = control.checkpointLsn();
        this.lastCommitMicros = control.checkpointTimeMicros();
    }

    /** Takes the directory's lock, then creates or recovers the store in it. */
    static Result open(Path dir, StoreOptions options, WalSeams seams) {
        AtomicFiles.createDirectories(dir);
        DirectoryLock lock = DirectoryLock.acquire(dir.resolve(Store.LOCK_FILE),
                "data directory " + dir + " is already open for writing");
        PageFile pageFile = null;
        DurablePoint point = null;
        Recovery r = null;
        WalLog wal = null;
        try {
            if (Files.exists(dir.resolve(Store.RESTORE_MARKER))) {
                throw new WalshipException(dir + " holds an incomplete restore; run 'walship restore' again to finish it"
                        + " (it starts over)");
            }
            boolean fresh = !ControlFile.exists(dir);
            if (fresh && (Files.exists(dir.resolve(PageFile.FILE_NAME)) || Files.exists(dir.resolve(WalLog.DIR_NAME)))) {
                throw new WalshipException(dir + " has store files but no control file; it is not a complete data directory");
            }
            ControlFile control = fresh ? new ControlFile(new SecureRandom().nextLong() & Long.MAX_VALUE, 1, 0, 0)
                    : ControlFile.read(dir);
            if (fresh) {
                control.write(dir); // the first thing a new store writes
            }
            point = DurablePoint.openForWriting(dir, control.systemId());
            boolean newFiles = !Files.exists(dir.resolve(PageFile.FILE_NAME))
                    || !Files.isDirectory(dir.resolve(WalLog.DIR_NAME));
            removeLeftovers(dir);
            pageFile = new PageFile(dir, false);
            wal = new WalLog(dir, false, options.rollCycle(), seams.walTime());
            wal.releaseStaleLocks(); // the LOCK above proves no other writer runs
            if (newFiles) {
                seams.sync().forceDirectory(wal.dir());
                seams.sync().forceDirectory(dir);
            }
            BufferPool pool = new BufferPool(pageFile, options.poolPages());
            r = new Recovery(dir, options, seams, control, pool, point, wal);
            r.run();
            return new Result(lock, control, pageFile, r.wal, pool, point, r.lastLsn, r.lastCommitMicros, r.end,
                    r.lastLsn == 0 && !control.standby(), r.latestHorizon, r.checkpointIsHorizon);
        } catch (IOException e) {
            close(r, wal, pageFile, point, lock);
            throw new UncheckedIOException("open " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            close(r, wal, pageFile, point, lock);
            throw e;
        }
    }

    private static void close(Recovery r, WalLog wal, PageFile pageFile, DurablePoint point, DirectoryLock lock) {
        try {
            if (r != null) {
                r.wal.close();
            } else if (wal != null) {
                wal.close();
            }
            if (pageFile != null) {
                pageFile.close();
            }
            if (point != null) {
                point.close();
            }
        } catch (RuntimeException x) {
            LOG.warn("closing the store files after a failed open: {}", x.toString());
        } finally {
            try {
                lock.close();
            } catch (UncheckedIOException x) {
                LOG.warn("releasing the lock after a failed open: {}", x.getMessage());
            }
        }
    }

    /** An interrupted repair's copy and pre-created cycle files that were never used. */
    private static void removeLeftovers(Path dir) throws IOException {
        TornTailRepair.deleteTree(dir.resolve(TornTailRepair.REPAIR_DIR));
        Path walDir = dir.resolve(WalLog.DIR_NAME);
        if (Files.isDirectory(walDir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(walDir, "*.precreated")) {
                for (Path p : ds) {
                    Files.delete(p);
                }
            }
        }
    }

    private void run() throws IOException {
        long checkpoint = control.checkpointLsn();
        Optional<DurablePoint.Value> found = point.found();
        if (found.isEmpty()) {
            LOG.warn("{} is damaged or belongs to another store; recovery takes the checkpoint LSN {} as the durable"
                    + " point", point.path(), Lsn.format(checkpoint));
        }
        long durable = Math.max(checkpoint, found.map(DurablePoint.Value::lsn).orElse(0L));
        long generation = found.map(DurablePoint.Value::generation).orElse(0L);
        // Chronicle updates its write position and index in place, in pages the kernel may write
        // back before the entries they point to: after a power loss they can point past the end.
        boolean metadataTrusted = found.map(v -> v.clean() || v.thisBoot()).orElse(false);

        long from = checkpoint + 1;
        WalLog.Located last = null;
        Stop stop = null;
        long applied = 0;
        try (ExcerptTailer t = wal.tailer()) {
            long first = wal.seek(t, from);
            if (first >= 0 && from < first) {
                throw new IntegrityException("crash recovery needs WAL from LSN " + Lsn.format(from)
                        + " but the WAL starts at " + Lsn.format(first));
            }
            long expected = from;
            while (true) {
                WalLog.Located doc = WalLog.readLocated(t);
                if (doc == null) {
                    break;
                }
                WalEntry e;
                try {
                    e = EntryCodec.decode(doc.bytes());
                } catch (FormatVersionException x) {
                    throw x;
                } catch (IntegrityException x) {
                    WalLog.Located next = WalLog.readLocated(t);
                    WalEntry superseding = decodeIfLsn(next, expected);
                    if (superseding == null) {
                        stop = new Stop(expected, doc, x.getMessage());
                        break;
                    }
                    // a WAL written before torn tails were cut off: the corrupt entry was superseded
                    LOG.warn("skipping a corrupt WAL entry superseded by LSN {} (queue index {}): {}",
                            Lsn.format(expected), Long.toHexString(doc.index()), x.getMessage());
                    doc = next;
                    e = superseding;
                }
                if (e.lsn() != expected) {
                    stop = new Stop(expected, doc, (e.lsn() > expected ? "a gap: found LSN " : "out of order: found LSN ")
                            + Lsn.format(e.lsn()));
                    break;
                }
                redo(pool, e);
                if (e.horizon() != Lsn.NONE) {
                    latestHorizon = Math.max(latestHorizon, e.horizon());
                    checkpointIsHorizon |= e.horizon() == checkpoint;
                }
                unsynced.add(doc.file());
                lastLsn = e.lsn();
                lastCommitMicros = Math.max(lastCommitMicros, e.commitTimeMicros());
                last = doc;
                expected++;
                applied++;
                pool.evictToCapacity(replayWriteBack); // the WAL first, then the pages (write-ahead)
            }
        }
        if (stop != null && stop.expectedLsn() <= durable) {
            throw new IntegrityException("corrupt WAL: " + stop.describe() + "; the WAL was durable up to LSN "
                    + Lsn.format(durable) + ", so this is damage in the middle of the log, not a torn tail; restore"
                    + " from the archive ('walship restore')");
        }
        if (lastLsn < durable) {
            throw new IntegrityException("the WAL ends at LSN " + Lsn.format(lastLsn) + " but it was durable up to LSN "
                    + Lsn.format(durable) + " (" + (durable == checkpoint ? "the checkpoint" : point.path().getFileName())
                    + "): durable WAL entries are missing; restore from the archive ('walship restore')");
        }
        if (applied > 0) {
            LOG.info("crash recovery replayed {} WAL entries, LSN {} to {}", applied, Lsn.format(from),
                    Lsn.format(lastLsn));
        }
        if (last == null) {
            last = locate(checkpoint);
        }
        List<WalLog.CycleFile> files = wal.cycleFiles();
        ChronicleTail.Verdict verdict = stop != null ? null
                : ChronicleTail.inspect(files, last == null ? null : last.file(), last == null ? 0 : last.end());
        String why = stop != null ? stop.describe()
                : !verdict.clean() ? verdict.why()
                : !metadataTrusted && !files.isEmpty() ? "the last writer stopped without closing the store and the"
                        + " machine has restarted since (a power loss?), so Chronicle's own position and index records in"
                        + " the last WAL file may point past what reached the disk"
                : null;
        if (why != null) {
            long keptIndex = last == null ? -1 : last.index();
            List<Path> copies = TornTailRepair.cut(dir, wal, keptIndex, last == null ? 0 : last.end(), seams);
            wal = new WalLog(dir, false, options.rollCycle(), seams.walTime());
            last = keptIndex < 0 ? null : locateIndex(keptIndex);
            verdict = ChronicleTail.inspect(wal.cycleFiles(), last == null ? null : last.file(), last == null ? 0 : last.end());
            if (!verdict.clean()) {
                throw new IntegrityException("the WAL is still not clean after cutting off its torn tail: " + verdict.why());
            }
            LOG.warn("cut the WAL off after LSN {} (durable up to LSN {}): {}; nothing after LSN {} was ever"
                    + " acknowledged; the files as they were are kept in {}", Lsn.format(lastLsn), Lsn.format(durable), why,
                    Lsn.format(durable), copies);
        }
        end = verdict.end();
        syncReplayed();
        seams.sync().forceDirectory(wal.dir());
        // a new generation at every open: a reader in another process then reopens the queue, so it
        // never goes on reading files that a cut (here, or in an open that crashed) set aside
        point.reset(generation + 1, lastLsn);
        if (lastLsn > 0) {
            MetaPage.check(pool.frame(MetaPage.PAGE_NO).data);
        }
    }

    private static WalEntry decodeIfLsn(WalLog.Located doc, long lsn) {
        if (doc == null) {
            return null;
        }
        try {
            WalEntry e = EntryCodec.decode(doc.bytes());
            return e.lsn() == lsn ? e : null;
        } catch (IntegrityException x) {
            return null;
        }
    }

    /** The entry with LSN {@code lsn}, where it lies; null if the WAL holds no entry at or before it. */
    private WalLog.Located locate(long lsn) {
        if (lsn <= 0) {
            return null;
        }
        try (ExcerptTailer t = wal.tailer()) {
            long first = wal.seek(t, lsn);
            if (first < 0 || first > lsn) {
                return null; // the WAL starts after it (a restored copy, or retention): nothing to cut before it
            }
            WalLog.Located doc = WalLog.readLocated(t);
            WalEntry e = doc == null ? null : decodeIfLsn(doc, lsn);
            if (e == null) {
                throw new IntegrityException("corrupt WAL: the checkpoint's entry, LSN " + Lsn.format(lsn)
                        + ", cannot be read" + (doc == null ? "" : " (queue index " + Long.toHexString(doc.index()) + ")")
                        + "; restore from the archive ('walship restore')");
            }
            return doc;
        }
    }

    private WalLog.Located locateIndex(long index) {
        try (ExcerptTailer t = wal.tailer()) {
            WalLog.Located doc = t.moveToIndex(index) ? WalLog.readLocated(t) : null;
            if (doc == null || doc.index() != index) {
                throw new IntegrityException("queue index " + Long.toHexString(index) + " is missing after cutting the"
                        + " WAL's torn tail");
            }
            return doc;
        }
    }

    /**
     * Eviction during redo: dirty pages are written only after the replayed WAL is synced, and a
     * standby writes none before its checkpoint is a leader's horizon (see {@link Checkpointer}).
     */
    private final BufferPool.WriteBack replayWriteBack = new BufferPool.WriteBack() {
        @Override
        public boolean mayWriteDirty() {
            return !control.standby() || checkpointIsHorizon;
        }

        @Override
        public void awaitDurable(long lsn) {
            syncReplayed();
        }
    };

    /** Syncs the cycle files that hold replayed entries (so pages may be written back, and before writes). */
    private void syncReplayed() {
        for (Path f : unsynced) {
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                seams.sync().force(f, ch, Long.MAX_VALUE);
            } catch (NoSuchFileException e) {
                LOG.debug("{} was set aside by the torn-tail repair", f);
            } catch (IOException e) {
                throw new UncheckedIOException("sync " + f + " during recovery: " + e.getMessage(), e);
            }
        }
        unsynced.clear();
    }

    /** Applies an entry's physical changes to the pool (redo). Caller holds the write lock or is opening. */
    static void redo(BufferPool pool, WalEntry e) {
        for (PageChange c : e.changes()) {
            BufferPool.Frame f;
            if (c.fullPage()) {
                f = pool.install(c.pageNo(), c.bytes().clone());
            } else {
                f = pool.frame(c.pageNo());
                System.arraycopy(c.bytes(), 0, f.data, c.offset(), c.bytes().length);
            }
            pool.markDirty(f, e.lsn());
        }
    }
}
