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
import io.walship.archive.RetentionWatermark;
import io.walship.archive.StorageException;
import io.walship.archive.TimelineHistory;
import io.walship.wal.Lsn;

/**
 * Checks a whole archive the way a restore would read it, without restoring: every timeline
 * history, every manifest and the image it names (size and SHA-256 of the uncompressed image;
 * {@code quick} checks only sizes), every segment (checksums, header, entry checksums, LSN
 * continuity inside it), and WAL continuity from each base backup to the end of every timeline
 * it leads to. A gap on a timeline's path that lies below that timeline's retention watermark
 * ({@link RetentionWatermark}, listed after the WAL) is retention's doing and only a note. A timeline
 * with WAL of its own and no good base backup on its path (on it, or on an ancestor at or before
 * where the path leaves it) that no other timeline forks from cannot be restored at all: a problem
 * ({@code unrestorable}), after a second listing finds no backup taken since; an ancestor's, or one
 * with no WAL in the archive, a note. The default restore (no --timeline) must plan
 * ({@link RestorePlan#make}): if not, a problem too. Collects every problem instead of stopping at
 * the first. Stateless.
 */
public final class ArchiveVerifier {
    /**
     * One thing wrong: {@code kind} is corrupt, missing, gap, broken-chain, foreign or unrestorable; {@code object} a key
     * or LSN range.
     */
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
        Map<ArchiveListing.BackupInfo, BackupManifest> manifests = new java.util.HashMap<>();
        int remaining = 0; // backups listed and not deleted while verify ran (good or not)
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            progress.accept("checking base backup " + b.name().dir());
            boolean readAgain = true;
            while (true) {
                BackupManifest m = null;
                try {
                    m = RestorePlan.readManifest(store, b.name());
                    bytes[0] += checkImage(store, m, parallel, quick);
                    goodBackups.add(b);
                    manifests.put(b, m);
                    remaining++;
                } catch (StorageException e) {
                    rethrowKeyError(e);
                    // A prune deletes a backup's manifest first (the backup stops existing), then its image. A backup
                    // listed whose manifest is gone at read time, or gone by the time its image turned out missing,
                    // was deleted while verify ran: as if deleted before the listing, it is not there (the WAL after
                    // it is judged by the watermarks below). A manifest not found at its read but there at the HEAD
                    // after was put back (a prune that saw a pin, Retention's put-back): it is read again, once. A
                    // manifest still there that cannot be read or is corrupt, or an image missing or bad under a
                    // manifest still there, is a problem.
                    boolean notFound = e instanceof io.walship.archive.ObjectNotFoundException;
                    if (m != null || notFound) {
                        boolean there = store.head(b.name().manifestKey()).isPresent();
                        if (!there) {
                            notes.add("base backup " + b.name().dir() + " was deleted while verify ran (its manifest is gone)");
                            break;
                        }
                        if (m == null && readAgain) {
                            readAgain = false;
                            continue;
                        }
                    }
                    remaining++;
                    problems.add(new Problem(notFound ? "missing" : "corrupt", b.name().manifestKey(), detail(e)));
                }
                break;
            }
        }
        // an incremental backup restores only with its whole chain: each parent there, readable and the image it
        // was built on, of the same store, on the child's history (checked at restore too, before any download)
        Map<ArchiveLayout.BackupName, BackupManifest> byName = new java.util.HashMap<>();
        manifests.forEach((b, m) -> byName.put(b.name(), m));
        java.util.function.Function<ArchiveLayout.BackupName, BackupManifest> manifestOf = n -> {
            BackupManifest there = byName.get(n);
            return there != null ? there : RestorePlan.readManifest(store, n);
        };
        for (ArchiveListing.BackupInfo b : new ArrayList<>(goodBackups)) {
            BackupManifest m = manifests.get(b);
            if (!m.incremental()) {
                continue;
            }
            try {
                Map<Integer, TimelineHistory> known = histories;
                List<TimelineHistory.Span> ancestry = TimelineHistory.ancestry(b.name().timeline(), known);
                io.walship.archive.BackupChain.resolve(m, b.name().manifestKey(), manifestOf::apply,
                        n -> TimelineHistory.onAncestry(n, ancestry));
            } catch (StorageException e) {
                rethrowKeyError(e);
                if (store.head(b.name().manifestKey()).isEmpty()) {
                    notes.add("base backup " + b.name().dir() + " was deleted while verify ran (its manifest is gone)");
                } else {
                    problems.add(new Problem("broken-chain", b.name().manifestKey(), detail(e)));
                }
                goodBackups.remove(b);
            }
        }
        if (remaining == 0) {
            // None listed, or every one deleted while verify ran. A prune never deletes the last backup it sees, so
            // one that deleted them all kept a newer backup this listing missed: list once more before calling the
            // archive unrestorable (a newer one is noted, unchecked); none there now is a problem either way.
            List<String> newer = listing.backups().isEmpty() ? List.of() : ArchiveListing.of(store).backups().stream()
                    .map(b -> b.name().dir()).toList();
            if (newer.isEmpty()) {
                problems.add(new Problem("missing", "backups/", "the archive has no base backup: nothing can be restored"));
            } else {
                notes.add("every base backup listed was deleted while verify ran; " + String.join(", ", newer)
                        + " appeared since and was not checked: run verify again");
            }
        }
        for (ObjectInfo o : listing.orphanBackupObjects()) {
            notes.add("object " + o.key() + " (" + o.size() + " bytes) belongs to a backup without a manifest"
                    + " (crashed or in progress); restore ignores it");
        }
        if (!listing.legacyPruned().isEmpty()) {
            notes.add(listing.legacyPruned().size() + " pruned-WAL record(s) of an older walship under "
                    + ArchiveLayout.LEGACY_PRUNED + " are ignored (retention watermarks replace them); the next prune"
                    + " deletes them");
        }

        Set<Long> backupSystems = new java.util.HashSet<>();
        for (ArchiveListing.BackupInfo b : goodBackups) {
            long id = Restore.systemIdOf(manifests.get(b));
            if (id != io.walship.archive.Segment.NO_SYSTEM_ID) {
                backupSystems.add(id);
            }
        }
        Set<Long> segmentSystems = java.util.concurrent.ConcurrentHashMap.newKeySet();
        int segments = 0;
        List<ArchiveListing.SegmentInfo> vanished = java.util.Collections.synchronizedList(new ArrayList<>());
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
                        if (id != io.walship.archive.Segment.NO_SYSTEM_ID) {
                            segmentSystems.add(id);
                        }
                        if (id != io.walship.archive.Segment.NO_SYSTEM_ID && !backupSystems.isEmpty()
                                && !backupSystems.contains(id)) {
                            return new Problem("foreign", s.name().key(), String.format("written by store %016x, but"
                                    + " the archive's base backups are of store(s) %s: two histories are spliced", id,
                                    backupSystems.stream().map(x -> String.format("%016x", x)).toList()));
                        }
                        return null;
                    } catch (io.walship.archive.ObjectNotFoundException e) {
                        vanished.add(s); // deleted since the listing: a concurrent prune's, or a loss (see below)
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
        // a base backup of another store than the WAL's: a restore to a point near it gives that store's state
        for (ArchiveListing.BackupInfo b : goodBackups) {
            long id = Restore.systemIdOf(manifests.get(b));
            if (id != io.walship.archive.Segment.NO_SYSTEM_ID && !segmentSystems.isEmpty() && !segmentSystems.contains(id)) {
                problems.add(new Problem("foreign", b.name().manifestKey(), String.format("a base backup of store %016x,"
                        + " but the archive's WAL is of store(s) %s: a restore to it would give another store's state",
                        id, segmentSystems.stream().sorted().map(x -> String.format("%016x", x)).toList())));
            }
        }
        if (segmentSystems.isEmpty() && backupSystems.size() > 1) {
            problems.add(new Problem("foreign", "backups/", "base backups of several stores: "
                    + backupSystems.stream().sorted().map(x -> String.format("%016x", x)).toList()));
        }

        // The watermarks are listed and read only now, after the listing of wal/ and the reads of the segments:
        // a prune creates its watermark before it deletes any WAL and deletes a watermark only once a higher one of
        // the same timeline exists, so every deletion seen above (a gap in the listing, a segment gone before its
        // read) has its watermark, or a higher one, in this later listing. Read the other way round, a prune
        // running in between would show its deletions without the watermark that excuses them (a false exit 3).
        RetentionWatermark.Scan marks = RetentionWatermark.scan(store);
        for (RetentionWatermark.Corrupt c : marks.corrupt()) {
            problems.add(new Problem("corrupt", c.key(), c.detail() + "; it excuses no gap"));
        }
        Map<Integer, List<TimelineHistory.Span>> ancestries = RetentionWatermark.ancestries(listing, histories);
        for (ArchiveListing.SegmentInfo s : vanished) {
            java.util.OptionalLong below = marks.prunedBelow(s.name().timeline(),
                    new ArchiveListing.Range(s.name().firstLsn(), s.name().lastLsn()), ancestries);
            if (below.isPresent()) {
                notes.add(s.name().key() + " was deleted by a prune while verify ran (below the window start "
                        + Lsn.format(below.getAsLong()) + " on timeline " + s.name().timeline() + "'s path)");
            } else {
                problems.add(new Problem("missing", s.name().key(), "listed, then gone before it could be read, and not"
                        + " below a retention watermark of timeline " + s.name().timeline()));
            }
        }

        Set<String> gaps = new LinkedHashSet<>();
        ArchiveListing[] fresh = {null}; // listed again, once, only before a timeline is called unrestorable
        java.util.function.Supplier<ArchiveListing> again = () -> fresh[0] != null ? fresh[0]
                : (fresh[0] = ArchiveListing.of(store));
        Set<Integer> told = new java.util.HashSet<>(); // timelines a problem (or a "run verify again") already explains
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
            if (remaining > 0 && onPath.stream().noneMatch(goodBackups::contains)) {
                // the good backups' WAL is judged below, per backup; with none on the path nothing restores this
                // timeline (none at all is the archive-wide problem above)
                if (unrestorable(listing, again, !onPath.isEmpty(), histories, t, ancestry, problems, notes)) {
                    told.add(t);
                }
            }
            for (ArchiveListing.BackupInfo b : onPath) {
                if (!goodBackups.contains(b)) {
                    continue;
                }
                RestorePlan.Chain c = RestorePlan.chain(listing, ancestry, b.name().lsn() + 1);
                boolean first = true;
                while (c.gap() != null) {
                    String range = "WAL LSN " + Lsn.format(c.gap().firstLsn()) + ".." + Lsn.format(c.gap().lastLsn());
                    java.util.OptionalLong below = prunedByRetention(onPath, goodBackups, marks, ancestries, t, c.gap());
                    if (below.isPresent()) {
                        String note = "base backup " + b.name().dir() + (first ? " restores to LSN " + Lsn.format(c.end())
                                : " is followed by WAL up to LSN " + Lsn.format(c.end())) + " (timeline " + t + "); "
                                + range + " was pruned by retention (below its window start "
                                + Lsn.format(below.getAsLong()) + "), a newer backup covers it";
                        if (!notes.contains(note)) {
                            notes.add(note);
                        }
                        // go on past it: a later gap on this path is checked like the first
                        c = RestorePlan.chain(listing, ancestry, c.gap().lastLsn() + 1);
                        first = false;
                        continue;
                    }
                    if (gaps.add(range + "@" + t)) {
                        told.add(t);
                        problems.add(new Problem("gap", range + " (timeline " + t + ")", "missing: " + (first
                                ? "base backup " + b.name().dir() + " cannot be restored past LSN " + Lsn.format(c.end())
                                : "the WAL after base backup " + b.name().dir() + " breaks after LSN " + Lsn.format(c.end()))
                                + (marks.windowStart(t) > 0 ? " (retention's window start on timeline " + t + " is LSN "
                                + Lsn.format(marks.windowStart(t)) + ")" : "")));
                    }
                    break;
                }
            }
        }
        if (remaining > 0 && !told.contains(RestorePlan.latest(listing, histories))) {
            defaultRestore(store, listing, again, histories, manifestOf, problems, notes);
        }
        return new Report(listing.timelines().size(), listing.backups().size(), segments, bytes[0], problems, notes);
    }

    /**
     * Whether the restore {@code walship restore --archive URI} runs without --timeline can be planned, by
     * {@link RestorePlan#make} itself (which timeline it follows, {@link RestorePlan#latest}, and from which backup):
     * a claimed timeline with no WAL in the archive is followed when its parent's history stops at its fork, and its
     * store may have written what its shipper would not ship here. If not, a problem, unless a second listing plans it
     * (a backup taken while verify ran): a note. An object the plan reads that cannot be read was judged above.
     */
    private static void defaultRestore(ObjectStore store, ArchiveListing listing,
                                       java.util.function.Supplier<ArchiveListing> again,
                                       Map<Integer, TimelineHistory> histories,
                                       java.util.function.Function<ArchiveLayout.BackupName, BackupManifest> manifests,
                                       List<Problem> problems, List<String> notes) {
        // planned on what verify read (each history and manifest once); with a history verify could not read, as
        // restore plans (which reads them all again, and fails on that one as restore would)
        boolean allRead = histories.keySet().containsAll(listing.histories());
        RestoreException cannot = plan(() -> allRead
                ? RestorePlan.make(store, listing, histories, manifests, 0, RestoreTarget.end(), Long.MAX_VALUE)
                : RestorePlan.make(store, listing, 0, RestoreTarget.end()));
        if (cannot == null) {
            return;
        }
        int t = RestorePlan.latest(listing, histories);
        ArchiveListing second = again.get();
        if (plan(() -> RestorePlan.make(store, second, 0, RestoreTarget.end())) == null) {
            notes.add("the default restore (no --timeline) of timeline " + t + " could not be planned from verify's"
                    + " listing (" + detail(cannot) + "), but can from a listing taken since: run verify again");
        } else {
            problems.add(new Problem("unrestorable", key(t), which(histories, t) + ", which walship restore follows"
                    + " without --timeline, cannot be restored: " + detail(cannot)));
        }
    }

    /** The failure planning the default restore, or null if it plans (or fails on a read). */
    private static RestoreException plan(java.util.function.Supplier<RestorePlan> planner) {
        try {
            planner.get();
            return null;
        } catch (RestoreException e) {
            return e;
        } catch (StorageException e) {
            rethrowKeyError(e);
            return null;
        }
    }

    /**
     * Timeline {@code t} has no good base backup on its path: its restore has nothing to start from (a prune that did
     * not know it deleted the backup it forked from, docs/OPERATIONS.md "Timelines and promotion"). A problem if it
     * has WAL of its own and no timeline in the archive forks from it (where writes go, or went last); a note if
     * another does (an ancestor: each child is checked on its own, the default restore below) or if none of its WAL
     * is in the archive. Before a problem, or when a backup listed on the path is gone ({@code vanished}), the archive
     * is listed {@code again}: a backup on the path that listing has and the first had not (taken while verify ran)
     * is noted, unchecked. Returns whether a problem or that note explains why {@code t} did not restore.
     */
    private static boolean unrestorable(ArchiveListing listing, java.util.function.Supplier<ArchiveListing> again,
                                        boolean vanished, Map<Integer, TimelineHistory> histories, int t,
                                        List<TimelineHistory.Span> ancestry, List<Problem> problems, List<String> notes) {
        StringBuilder path = new StringBuilder(ancestry.size() > 1 ? " on its path (" : " on it");
        for (TimelineHistory.Span s : ancestry.subList(0, ancestry.size() - 1)) {
            path.append("timeline ").append(s.timeline()).append(" up to LSN ").append(Lsn.format(s.toLsn())).append(", ");
        }
        path.append(ancestry.size() > 1 ? "or timeline " + t + ")" : "");
        String which = which(histories, t);
        boolean own = RestorePlan.hasOwnWal(listing, histories, t);
        List<Integer> children = histories.entrySet().stream().filter(e -> e.getValue().parent() == t)
                .map(Map.Entry::getKey).sorted().toList();
        Set<ArchiveLayout.BackupName> listed = new java.util.HashSet<>();
        listing.backups().forEach(b -> listed.add(b.name()));
        List<String> newer = !vanished && !(own && children.isEmpty()) ? List.of()
                : RestorePlan.backupsOn(again.get(), ancestry).stream()
                .filter(b -> !listed.contains(b.name())).map(b -> b.name().dir()).toList();
        if (!newer.isEmpty()) {
            notes.add(which + ": verify's listing has no usable base backup on its path; " + String.join(", ", newer)
                    + " appeared since (taken while verify ran) and was not checked: run verify again");
            return true;
        } else if (!own) {
            notes.add(which + " has no WAL of its own in the archive and no usable base backup" + path + ": restore"
                    + " --timeline " + t + " cannot run (a claim whose promotion never finished, a promoted copy never"
                    + " written, or a store whose WAL is not shipped here)");
        } else if (!children.isEmpty()) {
            long fork = children.stream().mapToLong(c -> histories.get(c).forkLsnValue()).max().orElseThrow();
            long end = listing.lastArchivedLsn(t);
            notes.add(which + " has no usable base backup" + path + ": restore --timeline " + t + " cannot run"
                    + (end > fork ? ", and its WAL past LSN " + Lsn.format(fork) + " (up to LSN " + Lsn.format(end)
                    + ") cannot be restored" : "") + (children.size() == 1 ? "; timeline " + children.get(0)
                    + " forks from it and is checked on its own" : "; timelines " + children.stream().map(String::valueOf)
                    .collect(java.util.stream.Collectors.joining(", ")) + " fork from it and are checked on their own"));
        } else {
            problems.add(new Problem("unrestorable", key(t), which + " cannot be restored: no usable base backup" + path
                    + "; take one from a store on timeline " + t + " (walship backup --data DIR or --url LEADER"
                    + " --archive URI)"));
            return true;
        }
        return false;
    }

    /** "timeline T (forked from timeline P after LSN F)". */
    private static String which(Map<Integer, TimelineHistory> histories, int t) {
        TimelineHistory h = histories.get(t);
        return "timeline " + t + (h == null ? "" : " (forked from timeline " + h.parent() + " after LSN "
                + Lsn.format(h.forkLsnValue()) + ")");
    }

    /** The key a problem of timeline {@code t} as a whole names: its history, or timeline 1's WAL. */
    private static String key(int t) {
        return t == 1 ? ArchiveLayout.WAL + ArchiveLayout.timelineHex(1) + "/" : ArchiveLayout.historyKey(t);
    }

    /**
     * Whether a gap on timeline {@code t}'s path is retention's doing (docs/OPERATIONS.md, "Pinned backups"),
     * and below which window start: all of it lies below the highest sound retention watermark of {@code t}, or,
     * on a stretch {@code t}'s path shares with another timeline's, of that timeline (docs/FORMAT.md "Retention
     * watermarks"; {@link RetentionWatermark.Scan#prunedBelow}), and a good backup on the path at or past the
     * gap's end restores through it. Whether any backup is pinned does not matter.
     */
    private static java.util.OptionalLong prunedByRetention(List<ArchiveListing.BackupInfo> onPath,
                                             List<ArchiveListing.BackupInfo> goodBackups, RetentionWatermark.Scan marks,
                                             Map<Integer, List<TimelineHistory.Span>> ancestries,
                                             int t, ArchiveListing.Range gap) {
        if (onPath.stream().noneMatch(o -> goodBackups.contains(o) && o.name().lsn() >= gap.lastLsn())) {
            return java.util.OptionalLong.empty();
        }
        return marks.prunedBelow(t, gap, ancestries);
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
        long lsn;
        int timeline;
        int pages;
        try (InputStream raw = new ParallelGet(store, key, info.size(), parallel, Restore.chunkBytes());
             InputStream in = new DigestInputStream(Codec.parse(m.codec()).decompress(raw), sha)) {
            // the header restore compares with the manifest (LSN, timeline, page count), as restore does
            if (m.incremental()) {
                io.walship.wal.IncrementalImage.Info h = io.walship.wal.IncrementalImage.readHeader(in);
                lsn = h.lsn();
                timeline = h.timeline();
                pages = h.pageCount();
            } else {
                io.walship.wal.SnapshotLoader.Info h = io.walship.wal.SnapshotLoader.readHeader(in);
                lsn = h.lsn();
                timeline = h.timeline();
                pages = h.pageCount();
            }
            n = (m.incremental() ? io.walship.wal.IncrementalImage.HEADER_SIZE : io.walship.wal.Snapshot.HEADER_SIZE)
                    + in.transferTo(OutputStream.nullOutputStream());
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
        if (lsn != Lsn.parse(m.lsn()) || timeline != m.timeline() || pages != m.pageCount()) {
            throw new io.walship.archive.CorruptObjectException(key, "image is LSN " + Lsn.format(lsn) + " timeline "
                    + timeline + " with " + pages + " pages, its manifest says " + m.lsn() + " timeline "
                    + m.timeline() + " with " + m.pageCount());
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
