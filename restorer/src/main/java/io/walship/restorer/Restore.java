package io.walship.restorer;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ParallelGet;
import io.walship.archive.Segment;
import io.walship.archive.TimelineHistory;
import io.walship.wal.AtomicFiles;
import io.walship.wal.ControlFile;
import io.walship.wal.DirectoryLock;
import io.walship.wal.FileTrees;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.Redo;
import io.walship.wal.SnapshotLoader;
import io.walship.wal.Store;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restores a data directory from the archive: the newest base backup that reaches the target,
 * downloaded with parallel ranged GETs and checked against its manifest, then the WAL after it,
 * segment by segment in LSN order (the next segments are fetched, checked and decoded while the
 * current one is applied), stopping exactly at the target.
 *
 * <p>Everything is checked — object sizes, checksums, format versions, timelines, LSN continuity
 * — and the first problem stops the restore, naming the object or LSN range. The directory is
 * marked incomplete ({@link Store#RESTORE_MARKER}) from the first byte to the last, so an
 * interrupted restore never opens as a store; running it again starts over. The result is a
 * standby (it takes no writes) unless {@code promote} claims a new timeline for it.
 */
public final class Restore {
    private static final Logger LOG = LoggerFactory.getLogger(Restore.class);
    /**
     * Ranged GETs of the base backup: 8 MiB, or a 64th of the heap if that is less (at least
     * 1 MiB), so that the {@code parallel + 1} chunks held at once stay a small share of any heap.
     */
    static long chunkBytes() {
        return Math.max(1L << 20, Math.min(8L << 20, Runtime.getRuntime().maxMemory() / 64));
    }
    /** Default page pool of a restore's replay. */
    public static final long DEFAULT_POOL_BYTES = 128L << 20;

    /**
     * @param target    where to stop
     * @param timeline  timeline to follow (0: the newest in the archive)
     * @param parallel  concurrent downloads (ranged GETs of the image, segments fetched ahead)
     * @param force     replace the contents of a non-empty target directory
     * @param promote   open the result for writes on a new timeline
     * @param poolPages pages held in memory during replay (default {@link #DEFAULT_POOL_BYTES}, at
     *                  most a quarter of the heap); pages evicted from it are written to the target
     * @param backupBelowLsn only base backups below this LSN are used (restore drills use it to
     *                  replay from an older backup); {@code Long.MAX_VALUE}: any
     */
    public record Options(RestoreTarget target, int timeline, int parallel, boolean force, boolean promote, int poolPages,
                          long backupBelowLsn) {
        public Options {
            if (parallel < 1 || parallel > 64) {
                throw new IllegalArgumentException("--parallel must be 1..64");
            }
        }

        public static Options defaults() {
            return new Options(RestoreTarget.end(), 0, 4, false, false, defaultPoolPages(), Long.MAX_VALUE);
        }

        /**
         * {@link #DEFAULT_POOL_BYTES}, or a quarter of the heap if that is less (at least 1 MiB),
         * as 4 KiB pages: a fixed amount, not a share of the heap, so that a restore's memory does
         * not grow with the store or with the machine (a store larger than the pool is replayed
         * with its pages written back as they are evicted).
         */
        static int defaultPoolPages() {
            return poolPages(DEFAULT_POOL_BYTES);
        }

        /** {@code bytes} of pool as pages, at most a quarter of the heap and at least 1 MiB. */
        public static int poolPages(long bytes) {
            long pages = Math.min(bytes, Runtime.getRuntime().maxMemory() / 4) / 4096;
            return (int) Math.max(256, Math.min(Integer.MAX_VALUE, pages));
        }

        public Options withPoolPages(int pages) {
            return new Options(target, timeline, parallel, force, promote, pages, backupBelowLsn);
        }

        public Options withTarget(RestoreTarget t) {
            return new Options(t, timeline, parallel, force, promote, poolPages, backupBelowLsn);
        }

        public Options withForce(boolean f) {
            return new Options(target, timeline, parallel, f, promote, poolPages, backupBelowLsn);
        }

        public Options withPromote(boolean p) {
            return new Options(target, timeline, parallel, force, p, poolPages, backupBelowLsn);
        }

        public Options withTimeline(int t) {
            return new Options(target, t, parallel, force, promote, poolPages, backupBelowLsn);
        }

        public Options withParallel(int n) {
            return new Options(target, timeline, n, force, promote, poolPages, backupBelowLsn);
        }

        public Options withBackupBelow(long lsn) {
            return new Options(target, timeline, parallel, force, promote, poolPages, lsn);
        }
    }

    /** Callbacks for progress reporting; called from the restoring thread. */
    public interface Listener {
        default void planned(RestorePlan plan) {
        }

        /** Compressed bytes of the base backup downloaded so far. */
        default void backupBytes(long done, long total) {
        }

        default void replayed(long entries, long lsn, long walBytes) {
        }
    }

    /**
     * What a restore did. {@code timeline} is the timeline of the LSN reached (in the control
     * file); {@code followedTimeline} the timeline whose history was followed (they differ when a
     * newer timeline has no WAL past its fork yet). {@code otherTimelines} are the histories in the
     * archive it did not follow, with where they end ({@link RestorePlan#otherTimelines}).
     */
    public record Result(String backupKey, long backupLsn, int followedTimeline, int timeline, long lsn, long commitTimeMicros,
                         long entries, int segments, long backupObjectBytes, long imageBytes, long walObjectBytes,
                         long walBytes, double backupSeconds, double replaySeconds, double seconds,
                         int promotedTimeline, List<RestorePlan.OtherTimeline> otherTimelines, String promotedBackup) {
        public String commitTime() {
            return RestoreTarget.formatMicros(commitTimeMicros);
        }

        /** This result with the base backup a promotion took on its new timeline. */
        Result withPromotedBackup(String key) {
            return new Result(backupKey, backupLsn, followedTimeline, timeline, lsn, commitTimeMicros, entries, segments,
                    backupObjectBytes, imageBytes, walObjectBytes, walBytes, backupSeconds, replaySeconds, seconds,
                    promotedTimeline, otherTimelines, key);
        }
    }

    private Restore() {
    }

    public static Result run(ObjectStore store, Path dir, Options options, Listener listener) {
        long t0 = System.nanoTime();
        Path target = dir.toAbsolutePath();
        Result result;
        try (DirectoryLock lock = prepare(target, options.force())) {
            ArchiveListing listing = ArchiveListing.of(store);
            RestorePlan plan = RestorePlan.make(store, listing, options.timeline(), options.target(), options.backupBelowLsn());
            listener.planned(plan);
            BackupManifest m = plan.manifest();
            if (plan.steps().isEmpty()) {
                requireTheWalsStore(store, listing, m); // no segment is read on the way, so none is checked
            }
            LOG.info("restoring {} into {} from base backup {} (LSN {}, {}) and {} WAL segment(s)",
                    options.target().describe(), target, m.imageKey(), m.lsn(), m.commitTime(), plan.steps().size());
            long imageObjectBytes;
            long t1;
            Replay replay;
            // WAL segments download and decode while the base backup is fetched and unpacked
            try (SegmentPrefetcher prefetch = new SegmentPrefetcher(store, plan.steps(), options.parallel(), true)) {
                imageObjectBytes = fetchChain(store, plan.backupChain(), target, options.parallel(), listener);
                t1 = System.nanoTime();
                replay = replay(plan, target, options, listener, prefetch);
            }
            ControlFile control = ControlFile.read(target);
            int promoted = 0;
            if (options.promote()) {
                // The control file names the candidate timeline before the candidate is claimed (the
                // directory still carries the restore marker, so it is no store until the claim is
                // done): a claimed timeline always has its copy, and a crash leaves an unopenable,
                // re-runnable restore plus at most a claim with no WAL, which default restores pass over.
                ControlFile standby = control;
                promoted = Promotion.claim(store, listing.timelines(), control.timeline(), control.checkpointLsn(),
                        control.checkpointTimeMicros(), "restore --promote to " + options.target().describe(),
                        options.target().kind() == RestoreTarget.Kind.END ? TimelineHistory.FORK_END : null,
                        candidate -> standby.promoted(candidate).write(target));
                Promotion.keepHistory(store, target, promoted); // for every archive it will ship to
            }
            Files.delete(target.resolve(Store.RESTORE_MARKER));
            AtomicFiles.fsyncDirectory(target);
            long t2 = System.nanoTime();
            LOG.info("restored {} to LSN {} (timeline {}, committed {}){}", target, Lsn.format(control.checkpointLsn()),
                    control.timeline(), RestoreTarget.formatMicros(control.checkpointTimeMicros()),
                    promoted > 0 ? "; promoted to timeline " + promoted : "; it is a standby until promoted");
            result = new Result(m.imageKey(), Lsn.parse(m.lsn()), plan.timeline(), control.timeline(), control.checkpointLsn(),
                    control.checkpointTimeMicros(), replay.entries, replay.segments, imageObjectBytes,
                    m.incremental() ? m.fullImageBytes() : m.imageBytes(),
                    replay.objectBytes, replay.walBytes, (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t2 - t0) / 1e9, promoted,
                    plan.otherTimelines(), null);
        } catch (IOException e) {
            throw new UncheckedIOException("restore into " + target + ": " + e.getMessage(), e);
        }
        if (result.promotedTimeline() == 0) {
            return result;
        }
        // the lock is released: a retention run that planned before the claim may be deleting the backup this
        // restore started from (a fork before the parent's newest backup); if so the new timeline gets its own
        String backup = Promotion.backUpIfUnprotected(store, target, result.promotedTimeline())
                .map(b -> b.manifest().imageKey()).orElse(null);
        return backup == null ? result : result.withPromotedBackup(backup);
    }

    /**
     * Locks the directory, refuses one with unrelated content (unless {@code force}), empties it
     * and marks it incomplete. A directory left marked by an interrupted restore is emptied
     * without asking: it never was a store.
     */
    public static DirectoryLock prepare(Path dir, boolean force) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(dir + " is a file, not a directory; restore into an empty or new directory");
        }
        Files.createDirectories(dir);
        DirectoryLock lock = DirectoryLock.acquire(dir.resolve(Store.LOCK_FILE),
                "data directory " + dir + " is in use by another walship process");
        try {
            Path marker = dir.resolve(Store.RESTORE_MARKER);
            boolean interrupted = Files.exists(marker);
            List<Path> content;
            try (Stream<Path> s = Files.list(dir)) {
                content = s.filter(p -> !p.getFileName().toString().equals(Store.LOCK_FILE)).toList();
            }
            if (!content.isEmpty() && !interrupted && !force) {
                throw new IllegalArgumentException(dir + " is not empty; restore into an empty or new directory,"
                        + " or pass --force to replace what it holds");
            }
            if (interrupted) {
                LOG.warn("{} holds an interrupted restore; starting over", dir);
            } else if (!content.isEmpty()) {
                LOG.warn("--force: deleting the {} entries in {}", content.size(), dir);
            }
            Files.write(marker, new byte[0]);
            AtomicFiles.fsyncDirectory(dir);
            for (Path p : content) {
                if (!p.equals(marker)) {
                    FileTrees.deleteTree(p);
                }
            }
            return lock;
        } catch (IOException | RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    /**
     * Downloads, checks and unpacks a base backup's chain (the full backup, then each incremental one onto
     * it); returns the objects' size. The composed pages must hash to the last backup's {@code fullImageSha256}:
     * a page an incremental backup missed (or a parent that is not the image it was built on) is exit 3 here,
     * never a silently different store.
     */
    static long fetchChain(ObjectStore store, List<BackupManifest> chain, Path dir, int parallel, Listener listener)
            throws IOException {
        long bytes = fetchBackup(store, chain.get(0), dir, parallel, listener);
        for (int i = 1; i < chain.size(); i++) {
            bytes += fetchIncrement(store, chain.get(i - 1), chain.get(i), dir, parallel, listener);
        }
        BackupManifest last = chain.get(chain.size() - 1);
        if (last.incremental()) {
            String got = io.walship.wal.IncrementalImage.imageSha256(dir, last.pageCount());
            if (!got.equalsIgnoreCase(last.fullImageSha256())) {
                throw new CorruptObjectException(last.imageKey(), "the chain of " + chain.size() + " backups composes an"
                        + " image with SHA-256 " + got + ", but the manifest says the full image at LSN " + last.lsn()
                        + " is " + last.fullImageSha256() + ": a link is not what it was built on, or a page changed"
                        + " without its page LSN");
            }
            LOG.info("composed {} backups into the image at LSN {} (SHA-256 checked)", chain.size(), last.lsn());
        }
        return bytes;
    }

    /** Downloads, checks and writes one incremental backup onto the composition of its parent chain. */
    private static long fetchIncrement(ObjectStore store, BackupManifest parent, BackupManifest m, Path dir, int parallel,
                                       Listener listener) throws IOException {
        io.walship.wal.IncrementalImage.Parent base = new io.walship.wal.IncrementalImage.Parent(
                Lsn.parse(parent.lsn()), parent.timeline(), parent.pageCount());
        return fetchChecked(store, m, parallel, listener, "incremental ", image -> {
            io.walship.wal.IncrementalImage.Info a = io.walship.wal.IncrementalImage.apply(image, dir, base);
            return new Loaded(a.lsn(), a.timeline(), a.pageCount());
        });
    }

    /** Downloads, checks and unpacks a full base backup; returns the object's size. */
    private static long fetchBackup(ObjectStore store, BackupManifest m, Path dir, int parallel, Listener listener)
            throws IOException {
        return fetchChecked(store, m, parallel, listener, "", image -> {
            SnapshotLoader.Info l = SnapshotLoader.load(image, dir, false); // synced once, after replay
            return new Loaded(l.lsn(), l.timeline(), l.pageCount());
        });
    }

    /** What reading an image gave: the LSN, timeline and page count it is of. */
    private record Loaded(long lsn, int timeline, int pageCount) {
    }

    /** Reads an image (decompressed) to its trailer and writes it where it goes. */
    @FunctionalInterface
    private interface ImageReader {
        Loaded read(InputStream image) throws IOException;
    }

    /**
     * Fetches the image {@code m} names ({@code parallel} ranged GETs, progress to {@code listener}),
     * decompresses it into {@code reader} and checks it against the manifest: nothing after its trailer,
     * its SHA-256, its LSN, timeline and page count; {@code kind} ("" or "incremental ") names it in the
     * errors, each a {@link CorruptObjectException} (exit 3). Returns the object's size.
     */
    private static long fetchChecked(ObjectStore store, BackupManifest m, int parallel, Listener listener, String kind,
                                     ImageReader reader) throws IOException {
        String key = m.imageKey();
        ObjectInfo info = imageObject(store, m);
        Codec codec;
        try {
            codec = Codec.parse(m.codec());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, "manifest names " + e.getMessage());
        }
        MessageDigest sha = sha256();
        long[] done = {0};
        Loaded loaded;
        try (ParallelGet raw = new ParallelGet(store, key, info.size(), parallel, chunkBytes());
             InputStream counted = new FilterInputStream(raw) {
                 @Override
                 public int read(byte[] b, int off, int len) throws IOException {
                     int n = super.read(b, off, len);
                     if (n > 0) {
                         done[0] += n;
                         listener.backupBytes(done[0], info.size());
                     }
                     return n;
                 }
             };
             InputStream image = new DigestInputStream(new BufferedInputStream(
                     namingReadErrors(codec.decompress(counted), key), 1 << 16), sha)) {
            loaded = reader.read(image);
            if (image.read() != -1) {
                throw new CorruptObjectException(key, "has bytes after the " + kind + "image's trailer");
            }
        } catch (IntegrityException e) {
            throw new CorruptObjectException(key, e.getMessage(), e);
        } catch (IOException e) {
            throw new CorruptObjectException(key, "cannot be read as a " + codec + " " + kind + "image: " + e.getMessage(), e);
        }
        String got = HexFormat.of().formatHex(sha.digest());
        if (!got.equalsIgnoreCase(m.imageSha256())) {
            throw new CorruptObjectException(key, kind + "image SHA-256 is " + got + ", its manifest says " + m.imageSha256());
        }
        if (loaded.lsn() != Lsn.parse(m.lsn()) || loaded.timeline() != m.timeline() || loaded.pageCount() != m.pageCount()) {
            throw new CorruptObjectException(key, kind + "image is LSN " + Lsn.format(loaded.lsn()) + " timeline "
                    + loaded.timeline() + " with " + loaded.pageCount() + " pages, its manifest says " + m.lsn()
                    + " timeline " + m.timeline() + " with " + m.pageCount());
        }
        return info.size();
    }

    /** The image object a manifest names, which must exist with the size the manifest records. */
    static ObjectInfo imageObject(ObjectStore store, BackupManifest m) {
        String key = m.imageKey();
        ObjectInfo info = store.head(key).orElseThrow(() -> new CorruptObjectException(key,
                "is missing, but manifest " + key.substring(0, key.lastIndexOf('/') + 1) + "manifest.json names it"));
        if (info.size() != m.objectBytes()) {
            throw new CorruptObjectException(key, "is " + info.size() + " bytes, its manifest says " + m.objectBytes());
        }
        return info;
    }

    /** Read-side failures (decompression, a short object) are the object's fault: name it, exit 3. */
    private static InputStream namingReadErrors(InputStream in, String key) {
        return new FilterInputStream(in) {
            @Override
            public int read() throws IOException {
                try {
                    return super.read();
                } catch (IOException e) {
                    throw new CorruptObjectException(key, "cannot be decompressed: " + e.getMessage(), e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return super.read(b, off, len);
                } catch (IOException e) {
                    throw new CorruptObjectException(key, "cannot be decompressed: " + e.getMessage(), e);
                }
            }
        };
    }

    private record Replay(long entries, int segments, long objectBytes, long walBytes) {
    }

    private static Replay replay(RestorePlan plan, Path dir, Options options, Listener listener,
                                 SegmentPrefetcher prefetch) {
        RestoreTarget target = options.target();
        long entries = 0;
        int segments = 0;
        long objectBytes = 0;
        boolean stopped = false;
        long waitNs = 0;
        long applyNs = 0;
        try (Redo redo = Redo.open(dir, options.poolPages())) {
            outer:
            for (RestorePlan.Step step : plan.steps()) {
                long w0 = System.nanoTime();
                SegmentPrefetcher.Decoded seg = prefetch.next();
                long w1 = System.nanoTime();
                waitNs += w1 - w0;
                segments++;
                long backupSystem = systemIdOf(plan.manifest());
                if (seg.header().systemId() != Segment.NO_SYSTEM_ID && backupSystem != Segment.NO_SYSTEM_ID
                        && seg.header().systemId() != backupSystem) {
                    throw new CorruptObjectException(step.key(), String.format("was written by store %016x, but the"
                            + " base backup %s is of store %016x: the archive splices two histories; nothing after"
                            + " LSN %s is applied", seg.header().systemId(), plan.manifest().imageKey(), backupSystem,
                            Lsn.format(redo.lsn())));
                }
                objectBytes += seg.objectBytes();
                for (int i = 0; i < seg.count(); i++) {
                    long lsn = seg.lsn(i);
                    if (lsn < step.fromLsn()) {
                        continue;
                    }
                    if (lsn > step.toLsn()) {
                        break;
                    }
                    if (!target.includes(lsn, seg.commitTimeMicros(i))) {
                        stopped = true;
                        break outer;
                    }
                    try {
                        if (seg.indexed()) {
                            redo.apply(seg.changes(), i);
                        } else {
                            redo.apply(seg.body(), seg.offset(i), seg.length(i)); // its index did not fit: as main
                        }
                    } catch (IntegrityException x) {
                        throw new CorruptObjectException(step.key(), x.getMessage(), x);
                    }
                    entries++;
                    if ((entries & 1023) == 0) {
                        listener.replayed(entries, lsn, redo.bytes());
                    }
                }
                applyNs += System.nanoTime() - w1;
                if (redo.lsn() < step.toLsn()) {
                    throw new CorruptObjectException(step.key(), "ends at LSN " + Lsn.format(redo.lsn())
                            + ", its name promises LSN " + Lsn.format(step.toLsn()));
                }
            }
            listener.replayed(entries, redo.lsn(), redo.bytes());
            if (target.kind() == RestoreTarget.Kind.TIME && !stopped) {
                // Ran out of WAL before seeing a commit past the target: a gap, or the end of what is
                // archived. Even a last commit exactly at an inclusive target's time does not reach it:
                // more commits in the same microsecond may not be archived yet.
                if (plan.chain().gap() == null && redo.commitTimeMicros() == target.timeMicros() && !target.exclusive()) {
                    throw new RestoreException("the archive ends at LSN " + Lsn.format(redo.lsn()) + " on timeline "
                            + plan.timeline() + ", committed exactly at the target (" + target.describe() + "), and holds"
                            + " no later commit yet: more commits of that microsecond may not be archived, so the target"
                            + " is not reached yet; retry once a later commit is archived, or restore to LSN "
                            + Lsn.format(redo.lsn()));
                }
                throw RestorePlan.unreachable(plan.store, plan.chain(), plan.timeline(), target);
            }
            if (target.kind() == RestoreTarget.Kind.LSN) {
                long need = target.exclusive() ? target.lsn() - 1 : target.lsn();
                if (redo.lsn() != need) {
                    throw new RestoreException("restore stopped at LSN " + Lsn.format(redo.lsn()) + ", not at "
                            + Lsn.format(need));
                }
            }
            long f0 = System.nanoTime();
            redo.finish(true);
            LOG.info("replay: {} entries; {} s waiting for segments, {} s applying, {} s writing pages back",
                    entries, String.format("%.2f", waitNs / 1e9), String.format("%.2f", applyNs / 1e9),
                    String.format("%.2f", (System.nanoTime() - f0) / 1e9));
            return new Replay(entries, segments, objectBytes, redo.bytes());
        }
    }

    /**
     * For a restore that reads no WAL (its target is the base backup itself): the backup must be of
     * the store whose WAL the archive holds on its timeline — judged by the first segment there that
     * reaches its LSN, or the last one — or it is another store's backup (a backup run pointed at the
     * wrong archive) and restoring it would give that store's state as this archive's.
     *
     * @throws CorruptObjectException naming both stores (exit 3; {@code archive verify} names it too)
     */
    private static void requireTheWalsStore(ObjectStore store, ArchiveListing listing, BackupManifest m)
            throws IOException {
        long backupSystem = systemIdOf(m);
        List<ArchiveListing.SegmentInfo> segments = listing.timelines().contains(m.timeline())
                ? listing.segments(m.timeline()) : List.of();
        if (backupSystem == Segment.NO_SYSTEM_ID || segments.isEmpty()) {
            return;
        }
        long lsn = Lsn.parse(m.lsn());
        ArchiveListing.SegmentInfo seg = segments.stream().filter(s -> s.name().lastLsn() >= lsn).findFirst()
                .orElse(segments.get(segments.size() - 1));
        String key = seg.name().key();
        long walSystem;
        try (InputStream in = store.getRange(key, 0, Segment.HEADER_SIZE)) {
            walSystem = Segment.readHeader(in, key).systemId();
        } catch (io.walship.archive.ObjectNotFoundException e) {
            return; // pruned since the listing
        }
        if (walSystem != Segment.NO_SYSTEM_ID && walSystem != backupSystem) {
            throw new CorruptObjectException(m.imageKey(), String.format("is of store %016x, but the archive's WAL"
                    + " (%s) is of store %016x: another store's base backup in this archive; nothing was restored"
                    + " (restore to another point, and delete that backup)", backupSystem, key, walSystem));
        }
    }

    /** The system id a manifest records, or {@link Segment#NO_SYSTEM_ID} if it does not parse. */
    static long systemIdOf(BackupManifest m) {
        try {
            return m.systemId() == null ? Segment.NO_SYSTEM_ID : Long.parseUnsignedLong(m.systemId(), 16);
        } catch (NumberFormatException e) {
            return Segment.NO_SYSTEM_ID;
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
