package io.walship.restorer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.Codec;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.ParallelGet;
import io.walship.archive.StorageException;
import io.walship.archive.TimelineHistory;
import io.walship.wal.Lsn;

/**
 * Checks a whole archive the way a restore would read it, without restoring: every timeline
 * history, every manifest and the image it names (size and SHA-256 of the uncompressed image;
 * {@code quick} checks only sizes), every segment (checksums, header, entry checksums, LSN
 * continuity inside it), and WAL continuity from each base backup to the end of every timeline
 * it leads to. Collects every problem instead of stopping at the first. Stateless.
 */
public final class ArchiveVerifier {
    /** One thing wrong: {@code kind} is corrupt, missing or gap; {@code object} a key or LSN range. */
    public record Problem(String kind, String object, String detail) {
        public String describe() {
            return kind + ": " + object + ": " + detail;
        }
    }

    /** What was checked and what is wrong. */
    public record Report(int timelines, int backups, int segments, long bytesRead, List<Problem> problems,
                         List<String> notes) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    private ArchiveVerifier() {
    }

    public static Report verify(ObjectStore store, int parallel, boolean quick, Consumer<String> progress) {
        ArchiveListing listing = ArchiveListing.of(store);
        List<Problem> problems = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        long[] bytes = {0};

        Map<Integer, TimelineHistory> histories = new java.util.HashMap<>();
        for (int t : listing.histories()) {
            try {
                histories.put(t, TimelineHistory.readOne(store, t));
            } catch (StorageException e) {
                rethrowKeyError(e);
                problems.add(new Problem("corrupt", ArchiveLayout.historyKey(t), detail(e)));
            }
        }

        List<ArchiveListing.BackupInfo> goodBackups = new ArrayList<>();
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            progress.accept("checking base backup " + b.name().dir());
            try {
                BackupManifest m = RestorePlan.readManifest(store, b.name());
                bytes[0] += checkImage(store, m, parallel, quick);
                goodBackups.add(b);
            } catch (StorageException e) {
                rethrowKeyError(e);
                problems.add(new Problem(e instanceof io.walship.archive.ObjectNotFoundException ? "missing" : "corrupt",
                        b.name().manifestKey(), detail(e)));
            }
        }
        if (listing.backups().isEmpty()) {
            problems.add(new Problem("missing", "backups/", "the archive has no base backup: nothing can be restored"));
        }
        for (ObjectInfo o : listing.orphanBackupObjects()) {
            notes.add("object " + o.key() + " (" + o.size() + " bytes) belongs to a backup without a manifest"
                    + " (crashed or in progress); restore ignores it");
        }
        // pruned-WAL records must say what their keys say (docs/FORMAT.md): a backup with a bad one has no gap excused
        Set<ArchiveLayout.BackupName> badRecords = new java.util.HashSet<>();
        Set<String> listed = new java.util.HashSet<>();
        listing.timelines().forEach(t -> listing.segments(t).forEach(s -> listed.add(s.name().key())));
        for (ArchiveLayout.PrunedName r : listing.pruned()) {
            if (listed.contains(r.wal().key())) {
                // it covers no gap (its segment is there); retention deletes it at its next run unless that deletes the WAL
                notes.add("record " + r.key() + " names " + r.wal().key() + ", which is still there (a prune was"
                        + " interrupted before deleting it, or is running); the next prune deletes the record or the WAL");
            }
            try (InputStream in = store.get(r.key())) {
                io.walship.archive.PrunedWal.read(in, r.key());
            } catch (io.walship.archive.ObjectNotFoundException e) {
                badRecords.add(r.backup()); // deleted since the listing: retention deletes only a gone backup's records
            } catch (IOException | StorageException e) {
                rethrowKeyError(e);
                problems.add(new Problem("corrupt", r.key(), detail(e)));
                badRecords.add(r.backup());
            }
        }

        Set<Long> backupSystems = new java.util.HashSet<>();
        for (ArchiveListing.BackupInfo b : goodBackups) {
            long id = Restore.systemIdOf(RestorePlan.readManifest(store, b.name()));
            if (id != io.walship.archive.Segment.NO_SYSTEM_ID) {
                backupSystems.add(id);
            }
        }
        int segments = 0;
        ExecutorService pool = Executors.newFixedThreadPool(parallel);
        try {
            List<ArchiveListing.SegmentInfo> all = new ArrayList<>();
            listing.timelines().forEach(t -> all.addAll(listing.segments(t)));
            List<CompletableFuture<Problem>> checks = new ArrayList<>();
            for (ArchiveListing.SegmentInfo s : all) {
                checks.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(store, s.name().key(), s.size());
                        synchronized (bytes) {
                            bytes[0] += d.objectBytes();
                        }
                        long id = d.header().systemId();
                        if (id != io.walship.archive.Segment.NO_SYSTEM_ID && !backupSystems.isEmpty()
                                && !backupSystems.contains(id)) {
                            return new Problem("foreign", s.name().key(), String.format("written by store %016x, but"
                                    + " the archive's base backups are of store(s) %s: two histories are spliced", id,
                                    backupSystems.stream().map(x -> String.format("%016x", x)).toList()));
                        }
                        return null;
                    } catch (StorageException e) {
                        rethrowKeyError(e);
                        return new Problem("corrupt", s.name().key(), detail(e));
                    }
                }, pool));
            }
            for (int i = 0; i < checks.size(); i++) {
                Problem p;
                try {
                    p = checks.get(i).join();
                } catch (java.util.concurrent.CompletionException e) {
                    rethrowKeyError(e.getCause());
                    throw e;
                }
                segments++;
                if (p != null) {
                    problems.add(p);
                }
                if ((i + 1) % 50 == 0) {
                    progress.accept("checked " + (i + 1) + " of " + all.size() + " WAL segments");
                }
            }
        } finally {
            pool.shutdownNow();
        }

        Set<String> gaps = new LinkedHashSet<>();
        for (int t : listing.timelines()) {
            List<TimelineHistory.Span> ancestry;
            try {
                ancestry = TimelineHistory.ancestry(t, histories);
            } catch (StorageException e) {
                rethrowKeyError(e);
                problems.add(new Problem("missing", ArchiveLayout.historyKey(t), detail(e)));
                continue;
            }
            List<ArchiveListing.BackupInfo> onPath = RestorePlan.backupsOn(listing, ancestry);
            for (ArchiveListing.BackupInfo b : onPath) {
                if (!goodBackups.contains(b)) {
                    continue;
                }
                RestorePlan.Chain c = RestorePlan.chain(listing, ancestry, b.name().lsn() + 1);
                if (c.gap() != null) {
                    String range = "WAL LSN " + Lsn.format(c.gap().firstLsn()) + ".." + Lsn.format(c.gap().lastLsn());
                    if (!badRecords.contains(b.name()) && prunedAfterPin(listing, ancestry, onPath, goodBackups, b, c.gap())) {
                        // retention recorded that it deleted this WAL after the backup while it was pinned
                        String note = (listing.pinned(b.name()) ? "pinned base backup " + b.name().dir()
                                : "base backup " + b.name().dir() + " (pinned when the WAL after it was pruned, unpinned since)")
                                + " restores to LSN " + Lsn.format(c.end()) + " (timeline " + t + "); " + range
                                + " after it was pruned, a newer backup covers it";
                        if (!notes.contains(note)) {
                            notes.add(note);
                        }
                        continue;
                    }
                    if (gaps.add(range + "@" + t)) {
                        problems.add(new Problem("gap", range + " (timeline " + t + ")", "missing: base backup "
                                + b.name().dir() + " cannot be restored past LSN " + Lsn.format(c.end())));
                    }
                }
            }
        }
        return new Report(listing.timelines().size(), listing.backups().size(), segments, bytes[0], problems, notes);
    }

    /**
     * Whether the gap right after good backup {@code b} on a timeline's path is retention's doing
     * (docs/OPERATIONS.md, "Pinned backups"): the gap starts right after {@code b}, a newer
     * good backup on the path covers the gap, and pruned-WAL records of {@code b} ({@code pruned/},
     * docs/FORMAT.md "Pruned-WAL records") cover every LSN of the gap on the timeline the path takes there.
     * Retention creates those records before it deletes WAL after a pinned backup; from the listing alone a
     * pruned stretch and a lost one look the same, so without a record covering it a gap is a loss. Whether
     * {@code b} is pinned now does not matter: records are only made while it is (an unpinned backup keeps
     * them until it is deleted), and a record whose segment a prune did not delete after all is deleted by
     * the next prune.
     */
    private static boolean prunedAfterPin(ArchiveListing listing, List<TimelineHistory.Span> ancestry,
                                          List<ArchiveListing.BackupInfo> onPath,
                                          List<ArchiveListing.BackupInfo> goodBackups, ArchiveListing.BackupInfo b,
                                          ArchiveListing.Range gap) {
        if (gap.firstLsn() != b.name().lsn() + 1) {
            return false; // a gap further on is a loss whatever is recorded
        }
        if (onPath.stream().noneMatch(o -> goodBackups.contains(o) && o.name().lsn() > b.name().lsn()
                && o.name().lsn() >= gap.lastLsn())) {
            return false;
        }
        for (TimelineHistory.Span span : ancestry) {
            long first = Math.max(gap.firstLsn(), span.fromLsn());
            long last = Math.min(gap.lastLsn(), span.toLsn());
            if (first <= last && !listing.prunedAfter(b.name(), span.timeline(), first, last)) {
                return false;
            }
        }
        return true;
    }

    /** Reads the image and checks its size and SHA-256 against the manifest; returns the object's bytes. */
    static long checkImage(ObjectStore store, BackupManifest m, int parallel, boolean quick) {
        String key = m.imageKey();
        ObjectInfo info = Restore.imageObject(store, m);
        if (quick) {
            return 0;
        }
        MessageDigest sha = Restore.sha256();
        long n;
        try (InputStream raw = new ParallelGet(store, key, info.size(), parallel, Restore.chunkBytes());
             InputStream in = new DigestInputStream(Codec.parse(m.codec()).decompress(raw), sha)) {
            n = in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException | RuntimeException e) {
            if (e instanceof StorageException s) {
                throw s;
            }
            throw new io.walship.archive.CorruptObjectException(key, "cannot be decompressed: " + e.getMessage(), e);
        }
        String got = HexFormat.of().formatHex(sha.digest());
        if (n != m.imageBytes() || !got.equalsIgnoreCase(m.imageSha256())) {
            throw new io.walship.archive.CorruptObjectException(key, "image is " + n + " bytes with SHA-256 " + got
                    + ", its manifest says " + m.imageBytes() + " bytes with " + m.imageSha256());
        }
        return info.size();
    }

    private static String detail(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.lines().findFirst().orElse(m);
    }

    /** A missing or wrong encryption key is not a problem of the archive: the whole check stops (exit 2). */
    private static void rethrowKeyError(Throwable e) {
        if (e instanceof io.walship.archive.EncryptionKeyException k) {
            throw k;
        }
    }
}
