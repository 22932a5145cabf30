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
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * The WAL retention hooks, kept as small files under {@code DATA/marks/} so that a shipper or
 * follower in another process can move them: {@code archived.ID} holds the LSN up to which the WAL
 * is safely in required archive ID ({@code ArchiveUri#id}), {@code consumer.NAME} the LSN each
 * registered consumer has consumed; {@code archived} (no ID) is the mark of an older version, a
 * retention floor until the per-archive marks replace it (docs/OPERATIONS.md, "Several archives").
 * Each file holds one canonical LSN and a newline and is replaced atomically. The leader deletes
 * WAL only up to the minimum of the checkpoint, every archive mark and every consumer.
 * Thread-safe (each call is one file operation). {@code sync-acked} stays open once written: {@link #close}.
 */
public final class WalMarks {
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
     * An in-place write of sync-acked is synced when this long has passed since its last sync: a
     * power loss then leaves the mark behind by about a second of acknowledgements at most, where an
     * unsynced in-place write could wait for the kernel's writeback (30 s by default).
     */
    static final long SYNC_ACKED_SYNC_INTERVAL_NANOS = 1_000_000_000L;
    private final LongSupplier nanoClock;
    private long syncAckedSyncedAt;
    private long syncAckedSyncs;
    /** The highest LSN of sync-acked known to be on disk (synced) by this instance, -1: none (tests). */
    private long syncAckedDurableLsn = -1;

    public WalMarks(Path dataDir) {
        this(dataDir, System::nanoTime);
    }

    /** With the clock that times the syncs of sync-acked (tests). */
    WalMarks(Path dataDir, LongSupplier nanoClock) {
        this.dir = dataDir.resolve(DIR_NAME);
        this.nanoClock = nanoClock;
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
     * mark backwards. It is on the commit path of every acknowledged commit, so it is synced at most
     * once a second: it survives a crash of the process, and a power loss may leave it behind by
     * about the last second of acknowledgements (docs/OPERATIONS.md, "Rejoin"). The first call (re)writes the file whole and atomically (a
     * rename: a mark torn by a power loss, or of another length, is replaced) and keeps it open;
     * later calls overwrite its one fixed-width line in place with one positional write — in the
     * page cache once the call returns, so a crash of the process keeps it, like the rename did,
     * without the read, create and rename per ack (about 0.5 ms each beside the WAL's syncs on ext4;
     * docs/BENCHMARKS.md, "Commit modes"). This instance must then be the mark's only writer (the
     * store's, {@link Store#marks()}); {@link #close} lets go of the file.
     */
    public synchronized void setSyncAcked(long lsn) {
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
            // left empty or torn by a power loss (the mark is not synced): acks only grow, so the
            // LSN acknowledged now is at least what it held
            cur = OptionalLong.empty();
        }
        long value = cur.isPresent() ? Math.max(cur.getAsLong(), lsn) : lsn;
        AtomicFiles.createDirectories(dir);
        Path f = dir.resolve(SYNC_ACKED);
        // synced (file, rename, directory): recorded below as synced now, and a mark a power loss
        // leaves missing would tell a rejoin this leader never acknowledged in a sync mode
        AtomicFiles.write(f, syncAckedLine(value));
        try {
            if (!closed) {
                syncAckedFile = new RandomAccessFile(f.toFile(), "rw");
                syncAckedSyncedAt = nanoClock.getAsLong();
            }
            syncAckedDurableLsn = Math.max(syncAckedDurableLsn, value);
        } catch (IOException e) {
            throw new UncheckedIOException("write " + f + ": " + e.getMessage(), e);
        }
        syncAckedLsn = value;
    }

    /**
     * One write at offset 0 of the line's 17 bytes, the file's whole content (same length every
     * time). On a failure the file is let go of: the next call writes a whole file by rename again
     * rather than failing on a handle in an unknown state.
     */
    private void overwriteSyncAcked(long lsn) {
        try {
            syncAckedFile.seek(0);
            syncAckedFile.write(syncAckedLine(lsn));
            long now = nanoClock.getAsLong();
            if (now - syncAckedSyncedAt >= SYNC_ACKED_SYNC_INTERVAL_NANOS) {
                syncAckedFile.getFD().sync();
                syncAckedSyncedAt = now;
                syncAckedSyncs++;
                syncAckedDurableLsn = Math.max(syncAckedDurableLsn, lsn);
            }
        } catch (IOException e) {
            RandomAccessFile f = syncAckedFile;
            syncAckedFile = null;
            syncAckedLsn = -1;
            try {
                f.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw new UncheckedIOException("write " + dir.resolve(SYNC_ACKED) + ": " + e, e);
        }
        syncAckedLsn = lsn;
    }

    /** How many in-place writes of sync-acked were synced (tests). */
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
     * Lets go of the sync-acked mark kept open by {@link #setSyncAcked} (the store closes); a write
     * after this (a commit answered during shutdown) renames a whole file in place and keeps nothing
     * open. Idempotent.
     */
    public synchronized void close() {
        closed = true;
        RandomAccessFile c = syncAckedFile;
        syncAckedFile = null;
        syncAckedLsn = -1;
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                throw new UncheckedIOException("close " + dir.resolve(SYNC_ACKED) + ": " + e.getMessage(), e);
            }
        }
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
