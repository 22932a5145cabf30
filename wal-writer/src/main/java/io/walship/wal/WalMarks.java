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
 * synced within {@link #SYNC_ACKED_MAX_LAG_MILLIS} of a write: {@link #setSyncAcked}, {@link #close}.
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
     * The longest an in-place write of sync-acked stays unsynced: the first write after the mark was
     * last synced schedules one sync this long later ({@link #forceSyncAcked}, off the commit path),
     * which covers every write made until it runs. A power loss then leaves the mark behind by at
     * most the acknowledgements of about this while (plus the sync's own time), also after the last
     * acknowledgement of a burst, where an unsynced in-place write would wait for the kernel's
     * writeback (30 s by default); and the mark costs at most one {@code fdatasync} per this while,
     * none per ack. {@link #close} syncs what is left.
     */
    static final long SYNC_ACKED_MAX_LAG_MILLIS = 50;

    /**
     * Runs a task once, after a delay, on another thread than the caller's (which holds this
     * instance's lock): the timer of the sync-acked syncs (tests run the task by hand).
     */
    interface Delay {
        void after(long millis, Runnable task);
    }

    /** Syncs the data of the open sync-acked file ({@code fdatasync}; tests count or fail it). */
    interface Forcer {
        void force(RandomAccessFile file) throws IOException;
    }

    /**
     * One daemon thread for the whole process runs the delayed syncs of every store's sync-acked
     * mark (a few {@code fdatasync}s a second at most, each of a 17-byte file).
     */
    private static final class SharedDelay {
        static final java.util.concurrent.ScheduledThreadPoolExecutor EXECUTOR;

        static {
            EXECUTOR = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
                Thread t = new Thread(r, "walship-sync-acked-syncer");
                t.setDaemon(true);
                return t;
            });
            EXECUTOR.setRemoveOnCancelPolicy(true);
        }

        static void after(long millis, Runnable task) {
            EXECUTOR.schedule(task, millis, java.util.concurrent.TimeUnit.MILLISECONDS);
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
    /** Held while the open sync-acked file is synced (before this), so that {@link #close} never closes it under a sync. */
    private final Object forceLock = new Object();
    /** The highest LSN of sync-acked known to be on disk (synced) by this instance, -1: none. */
    private long syncAckedDurableLsn = -1;
    /** A sync of the open mark is scheduled and has not started yet. */
    private boolean syncAckedForceScheduled;
    /** A delayed sync that failed, not yet reported to a caller (the next {@link #setSyncAcked} or {@link #close} throws it). */
    private IOException syncAckedForceFailure;
    private long syncAckedSyncs;

    public WalMarks(Path dataDir) {
        this(dataDir, SharedDelay::after, WalMarks::fdatasync);
    }

    /** With the timer and the sync of the sync-acked mark (tests). */
    WalMarks(Path dataDir, Delay delay, Forcer forcer) {
        this.dir = dataDir.resolve(DIR_NAME);
        this.delay = delay;
        this.forcer = forcer;
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
     * mark backwards. It is on the commit path of every acknowledged commit, so no call syncs it:
     * it survives a crash of the process once the call returns, and a sync scheduled by the first
     * write since the mark's last sync runs {@link #SYNC_ACKED_MAX_LAG_MILLIS} later off the commit path, so
     * a power loss leaves it behind by at most the acknowledgements of about that while, also after
     * the last one of a burst (docs/OPERATIONS.md, "Rejoin"). The first call (re)writes the file whole and atomically (a
     * rename, synced: a mark torn by a power loss, or of another length, is replaced) and keeps it open;
     * later calls overwrite its one fixed-width line in place with one positional write — in the
     * page cache once the call returns, so a crash of the process keeps it, like the rename did,
     * without the read, create and rename per ack (about 0.5 ms each beside the WAL's syncs on ext4;
     * docs/BENCHMARKS.md, "Commit modes"). This instance must then be the mark's only writer (the
     * store's, {@link Store#marks()}); {@link #close} syncs and lets go of the file.
     *
     * @throws UncheckedIOException if the write fails, or if the delayed sync of an earlier write
     *     failed (reported once, to the next call; the file is then let go of, and the call after
     *     rewrites the whole mark, synced, by rename)
     */
    public synchronized void setSyncAcked(long lsn) {
        IOException failed = syncAckedForceFailure;
        if (failed != null) {
            syncAckedForceFailure = null;
            throw new UncheckedIOException("sync " + dir.resolve(SYNC_ACKED) + " failed: " + failed.getMessage(), failed);
        }
        if (syncAckedFile != null) {
            if (lsn > syncAckedLsn) {
                overwriteSyncAcked(lsn);
            }
            return;
        }
        OptionalLong cur;
        try {
            cur = syncAcked();
        } catch (IntegrityException e) {
            // left empty or torn by a power loss (in-place writes are synced only after a while):
            // acks only grow, so the LSN acknowledged now is at least what it held
            cur = OptionalLong.empty();
        }
        long value = cur.isPresent() ? Math.max(cur.getAsLong(), lsn) : lsn;
        AtomicFiles.createDirectories(dir);
        Path f = dir.resolve(SYNC_ACKED);
        // synced (file, rename, directory): recorded below as durable, and a mark a power loss
        // leaves missing would tell a rejoin this leader never acknowledged in a sync mode
        AtomicFiles.write(f, syncAckedLine(value));
        try {
            if (!closed) {
                syncAckedFile = new RandomAccessFile(f.toFile(), "rw");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("write " + f + ": " + e.getMessage(), e);
        }
        syncAckedDurableLsn = Math.max(syncAckedDurableLsn, value);
        syncAckedLsn = value;
    }

    /**
     * One write at offset 0 of the line's 17 bytes, the file's whole content (same length every
     * time), and a sync {@link #SYNC_ACKED_MAX_LAG_MILLIS} later unless one is scheduled already. On
     * a failure the file is let go of: the next call writes a whole file by rename again rather than
     * failing on a handle in an unknown state.
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
        if (!syncAckedForceScheduled) {
            syncAckedForceScheduled = true;
            delay.after(SYNC_ACKED_MAX_LAG_MILLIS, this::forceSyncAcked);
        }
    }

    /** Closes the open mark after a failure (adding a failure to close to {@code e}); the next write renames a whole file. */
    private void letGoOfSyncAcked(IOException e) {
        RandomAccessFile f = syncAckedFile;
        syncAckedFile = null;
        syncAckedLsn = -1;
        try {
            f.close();
        } catch (IOException suppressed) {
            e.addSuppressed(suppressed);
        }
    }

    /**
     * The delayed sync: syncs the open mark up to what was written when it starts (a write during
     * the sync schedules the next one), outside the writers' lock, so commits are not held up by it.
     * A failure is logged and reported to the next {@link #setSyncAcked} or {@link #close}; the file
     * is let go of, so the write after that renames a whole, synced mark into place.
     */
    void forceSyncAcked() {
        synchronized (forceLock) {
            RandomAccessFile f;
            long lsn;
            synchronized (this) {
                syncAckedForceScheduled = false;
                f = syncAckedFile;
                lsn = syncAckedLsn;
                if (f == null || lsn <= syncAckedDurableLsn) {
                    return;
                }
            }
            IOException failed = null;
            try {
                forcer.force(f);
            } catch (IOException e) {
                failed = e;
            } catch (RuntimeException e) {
                failed = new IOException(e.toString(), e);
            }
            synchronized (this) {
                if (failed == null) {
                    syncAckedSyncs++;
                    syncAckedDurableLsn = Math.max(syncAckedDurableLsn, lsn);
                    return;
                }
                LOG.error("sync of {} (the LSNs up to {} acknowledged in a sync commit mode, what a rejoin must not"
                        + " discard) failed: {}; a power loss may leave the mark behind them; the next sync commit's"
                        + " answer reports it", dir.resolve(SYNC_ACKED), Lsn.format(lsn), Errors.oneLine(failed));
                if (syncAckedFile == f) {
                    syncAckedForceFailure = failed;
                    letGoOfSyncAcked(failed);
                } // else a failed write let go of it already, and its caller was answered with that failure
            }
        }
    }

    /** How many delayed syncs of sync-acked were made (tests). */
    synchronized long syncAckedSyncs() {
        return syncAckedSyncs;
    }

    /** The highest LSN of sync-acked this instance knows to be synced to disk, -1 if none (tests). */
    synchronized long syncAckedDurableLsn() {
        return syncAckedDurableLsn;
    }

    private static byte[] syncAckedLine(long lsn) {
        return (Lsn.format(lsn) + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Syncs the sync-acked mark kept open by {@link #setSyncAcked} if a write is not synced yet, and
     * lets go of it (the store closes); a write after this (a commit answered during shutdown)
     * renames a whole synced file in place and keeps nothing open. Idempotent.
     *
     * @throws UncheckedIOException if the sync or the close fails, or a delayed sync failed that no
     *     caller was told of yet
     */
    public void close() {
        synchronized (forceLock) {
            synchronized (this) {
                closed = true;
                IOException failed = syncAckedForceFailure;
                syncAckedForceFailure = null;
                RandomAccessFile c = syncAckedFile;
                long lsn = syncAckedLsn;
                syncAckedFile = null;
                syncAckedLsn = -1;
                if (c != null) {
                    IOException e = closeSyncAcked(c, lsn);
                    if (e != null) {
                        failed = e;
                    }
                }
                if (failed != null) {
                    throw new UncheckedIOException("sync or close " + dir.resolve(SYNC_ACKED) + ": " + failed.getMessage(),
                            failed);
                }
            }
        }
    }

    /** Syncs {@code c} if it holds a write not synced yet, and closes it; the failure, or null. */
    private IOException closeSyncAcked(RandomAccessFile c, long lsn) {
        IOException failed = null;
        if (lsn > syncAckedDurableLsn) {
            // an interrupt pending on the closing thread would close the channel mid-sync
            boolean interrupted = Thread.interrupted();
            try {
                forcer.force(c);
                syncAckedSyncs++;
                syncAckedDurableLsn = lsn;
            } catch (IOException e) {
                failed = e;
                LOG.error("final sync of {} (the LSNs up to {} acknowledged in a sync commit mode) failed: {}",
                        dir.resolve(SYNC_ACKED), Lsn.format(lsn), Errors.oneLine(e));
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        try {
            c.close();
        } catch (IOException e) {
            if (failed == null) {
                failed = e;
            } else {
                failed.addSuppressed(e);
            }
        }
        return failed;
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
