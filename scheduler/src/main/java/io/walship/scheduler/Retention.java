package io.walship.scheduler;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.BackupPin;
import io.walship.archive.ObjectInfo;
import io.walship.archive.ObjectStore;
import io.walship.archive.RetentionWatermark;
import io.walship.archive.TimelineHistory;
import io.walship.restorer.RestorePlan;
import io.walship.wal.Lsn;

/**
 * The retention planner: which base backups and WAL segments an archive can do without.
 *
 * <p>Backups are kept if they are among the newest {@code keepBackups} (by commit time, across
 * timelines) or younger than {@code keepDays}; on top of that, every timeline keeps the newest
 * backup on its ancestry, so a promotion can never make retention delete what the new timeline
 * needs. A history with no kept backup on it (none taken yet, or the first one still uploading)
 * keeps all of its WAL. Only timelines whose history is in the archive are known: {@link #apply} creates its
 * watermarks before it looks for timelines claimed since the plan (refusing if there are any), so a promotion
 * that reads the parent's watermark after its claim (RetentionWatermark.forkUnprotected)
 * learns when a fork below the window may have lost its base. A segment is deleted only if no kept backup can use it: for every kept backup and every
 * timeline whose ancestry contains it, the WAL after the backup on that ancestry is kept (that is
 * the point-in-time window). The last segment of every timeline is kept too: it tells the shipper
 * where the archive ends. Timeline histories are never deleted. Objects of backups that never
 * got a manifest are deleted once older than a day (younger ones may be uploading).
 *
 * <p><b>Pinned backups</b> ({@link BackupPin}, {@code walship archive pin}) are kept whatever the
 * policy says, with what they need to be consistent: a base backup is the store exactly at its LSN,
 * so that is its manifest and image and no WAL. The WAL after a pinned backup is kept only as
 * far as the policy keeps it anyway (a pin keeps a restore point, not a point-in-time window).
 *
 * <p><b>Retention watermarks</b> ({@link RetentionWatermark}): for every timeline {@code t} with a kept
 * backup on its ancestry, the window start {@code L(t)} is one past the LSN of the oldest kept backup on
 * that ancestry. {@link #needed} keeps every segment on {@code t}'s path that reaches {@code L(t)} or
 * beyond (its last LSN is at least {@code L(t)}), so whatever a plan deletes on that path lies wholly below
 * {@code L(t)}; a history with no kept backup keeps all of its WAL and gets no watermark. Before it deletes
 * anything, {@link #apply} creates {@code retention/T-L.json} for each timeline (unless a sound one at least
 * as high is there: the plan reads the watermarks, and a corrupt one counts for nothing), so {@code archive verify} passes a gap on {@code t}'s path as pruned exactly when it
 * lies below the highest watermark of {@code t}, even after an interrupted run. Lower sound watermarks of a
 * timeline are deleted only after the plan's own or a higher sound one exists (the highest sound one is never
 * deleted, corrupt ones are left for the operator), and so are the pruned-WAL
 * records of the previous walship ({@code pruned/}). Whether a backup is pinned plays no part in this.
 *
 * <p>{@link #apply} reads each backup's pin again just before it deletes the manifest and once more
 * after; a pin that appeared in between gets the manifest put back (the same bytes, created again,
 * retried a few times) and the backup's other objects are left alone. No other object of a backup
 * is deleted unless, right before that delete, the backup has no manifest and no pin, and objects
 * of a pinned backup without a manifest are never planned as orphans. So a pin that
 * {@code BackupPin.pin} reported is never lost to a retention run, including one already running,
 * two running at once, or one whose put-back failed.
 *
 * <p>Deleting runs in an order that is safe to interrupt: each expired backup's manifest first
 * (the backup stops existing at once), then its other objects, then segments oldest first (what
 * remains is always a contiguous suffix). Rerunning finishes the job. Stateless.
 */
public final class Retention {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Retention.class);
    static final Duration ORPHAN_AGE = Duration.ofDays(1);

    /** How much to keep: at least one of the two must be set (null: not used). */
    public record Policy(Integer keepBackups, Integer keepDays) {
        public Policy {
            if (keepBackups == null && keepDays == null) {
                throw new IllegalArgumentException("give --keep-backups N and/or --keep-days D");
            }
            if (keepBackups != null && keepBackups < 1) {
                throw new IllegalArgumentException("keep-backups must be at least 1");
            }
            if (keepDays != null && keepDays < 0) {
                throw new IllegalArgumentException("keep-days must not be negative");
            }
        }
    }

    /** One object to delete, and why. */
    public record Deletion(String key, long bytes, String reason) {
    }

    /**
     * What to keep and delete, and the timelines the plan knew of. {@code pinnedBackups} are kept
     * because they are pinned (some may be kept by the policy too); {@code keptBackups} are those the
     * policy keeps. {@code watermarks} are the retention watermarks ({@link RetentionWatermark}, one per
     * timeline with a kept backup on its path) {@link #apply} creates before it deletes anything;
     * {@code windowStarts} the window start of every such timeline, whether or not its watermark is created
     * (one at least as high may exist already).
     */
    public record Plan(List<String> keptBackups, List<String> pinnedBackups, List<Deletion> deletions,
                       Set<Integer> timelines, List<ArchiveLayout.WatermarkName> watermarks,
                       Map<Integer, Long> windowStarts) {
        public long bytes() {
            return deletions.stream().mapToLong(Deletion::bytes).sum();
        }
    }

    private Retention() {
    }

    public static Plan plan(ObjectStore store, Policy policy, Instant now) {
        ArchiveListing listing = ArchiveListing.of(store);
        Map<Integer, TimelineHistory> histories = TimelineHistory.readAll(store, listing);
        Map<ArchiveListing.BackupInfo, BackupManifest> manifests = new HashMap<>();
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            manifests.put(b, RestorePlan.readManifest(store, b.name()));
        }
        List<ArchiveListing.BackupInfo> byAge = new ArrayList<>(listing.backups());
        byAge.sort(Comparator.comparingLong((ArchiveListing.BackupInfo b) -> manifests.get(b).commitTimeMicros())
                .thenComparing(b -> manifests.get(b).createdAt()).reversed());

        Set<ArchiveListing.BackupInfo> keep = new LinkedHashSet<>();
        for (int i = 0; i < byAge.size(); i++) {
            ArchiveListing.BackupInfo b = byAge.get(i);
            boolean byCount = policy.keepBackups() != null && i < policy.keepBackups();
            boolean byDays = policy.keepDays() != null && Instant.parse(manifests.get(b).createdAt())
                    .isAfter(now.minus(Duration.ofDays(policy.keepDays())));
            if (byCount || byDays || i == 0) {
                keep.add(b);
            }
        }
        Map<Integer, List<TimelineHistory.Span>> ancestries = new HashMap<>();
        for (int t : listing.timelines()) {
            List<TimelineHistory.Span> a = TimelineHistory.ancestry(t, histories);
            ancestries.put(t, a);
            // every timeline keeps the newest backup it can restore from
            RestorePlan.backupsOn(listing, a).stream().findFirst().ifPresent(keep::add);
        }

        // an incremental backup needs its whole chain: the parents of every kept or pinned backup are kept
        // (and, with them, the WAL after them, which costs little: the kept child's WAL is kept anyway)
        Map<ArchiveLayout.BackupName, ArchiveListing.BackupInfo> byName = new HashMap<>();
        listing.backups().forEach(b -> byName.put(b.name(), b));
        java.util.ArrayDeque<ArchiveListing.BackupInfo> todo = new java.util.ArrayDeque<>(keep);
        listing.backups().stream().filter(b -> listing.pinned(b.name())).forEach(todo::add);
        Set<ArchiveListing.BackupInfo> seen = new java.util.HashSet<>();
        while (!todo.isEmpty()) {
            ArchiveListing.BackupInfo b = todo.poll();
            BackupManifest m = manifests.get(b);
            if (!seen.add(b) || m == null || !m.incremental()) {
                continue;
            }
            ArchiveListing.BackupInfo parent = byName.get(m.parent().name());
            if (parent != null) {
                keep.add(parent); // a parent that is not there leaves a broken chain: verify reports it, exit 3
                todo.add(parent);
            }
        }

        List<Deletion> deletions = new ArrayList<>();
        List<String> pinned = new ArrayList<>();
        for (ArchiveListing.BackupInfo b : byAge) {
            if (listing.pinned(b.name())) {
                pinned.add(b.name().dir());
            }
            if (keep.contains(b) || listing.pinned(b.name())) {
                continue;
            }
            String why = "base backup at LSN " + Lsn.format(b.name().lsn()) + " (timeline " + b.name().timeline()
                    + ", created " + manifests.get(b).createdAt() + ") is outside the policy";
            deletions.add(new Deletion(b.name().manifestKey(), 0, why));
            for (ObjectInfo o : store.list(b.name().dir(), null)) {
                if (!o.key().equals(b.name().manifestKey())) {
                    deletions.add(new Deletion(o.key(), o.size(), why));
                }
            }
        }
        // fix the manifest sizes now that the listing gave them
        for (int i = 0; i < deletions.size(); i++) {
            Deletion d = deletions.get(i);
            if (ArchiveLayout.isManifest(d.key())) {
                long size = store.head(d.key()).map(ObjectInfo::size).orElse(0L);
                deletions.set(i, new Deletion(d.key(), size, d.reason()));
            }
        }
        for (ObjectInfo o : listing.orphanBackupObjects()) {
            // a pinned backup without a manifest (a put-back that failed, or a pin that lost its race) is kept
            if (ArchiveLayout.parseBackup(o.key()).map(listing::pinned).orElse(false)) {
                continue;
            }
            if (o.lastModified().isBefore(now.minus(ORPHAN_AGE))) {
                deletions.add(new Deletion(o.key(), o.size(), "belongs to a backup that never got a manifest"));
            }
        }

        List<ArchiveListing.SegmentInfo> segments = new ArrayList<>();
        listing.timelines().forEach(t -> segments.addAll(listing.segments(t)));
        segments.sort(Comparator.comparingLong((ArchiveListing.SegmentInfo s) -> s.name().firstLsn())
                .thenComparingInt(s -> s.name().timeline()));
        Set<ArchiveListing.SegmentInfo> tails = new java.util.HashSet<>();
        for (int t : listing.timelines()) {
            listing.segments(t).stream().max(Comparator.comparingLong(s -> s.name().lastLsn())).ifPresent(tails::add);
        }
        for (ArchiveListing.SegmentInfo s : segments) {
            // the last segment of a timeline stays: it is where the shipper resumes
            if (!tails.contains(s) && !needed(s, keep, listing, ancestries)) {
                deletions.add(new Deletion(s.name().key(), s.size(), "WAL no kept base backup can use"));
            }
        }
        // the window start of each timeline's path: nothing at or past it is deleted above (see needed)
        Map<Integer, Long> windowStarts = new java.util.TreeMap<>();
        for (int t : listing.timelines()) {
            RestorePlan.backupsOn(listing, ancestries.get(t)).stream().filter(keep::contains)
                    .mapToLong(b -> b.name().lsn()).min().ifPresent(k -> windowStarts.put(t, k + 1));
        }
        // watermarks: this plan's, unless a sound one at least as high is there (the highest sound one is never
        // deleted); lower sound ones go once the plan's own or a higher sound one exists, and so do the previous
        // walship's records. Only watermarks read and found sound count: a corrupt one excuses nothing in verify,
        // so it neither stands in for the plan's own nor supersedes a sound one (verify reports it; it is left alone)
        RetentionWatermark.Scan marks = RetentionWatermark.scan(store);
        List<ArchiveLayout.WatermarkName> watermarks = new ArrayList<>();
        windowStarts.forEach((t, l) -> {
            if (marks.windowStart(t) < l) {
                watermarks.add(new ArchiveLayout.WatermarkName(t, l));
            }
        });
        List<Deletion> first = new ArrayList<>();
        for (ArchiveLayout.WatermarkName w : marks.sound()) {
            long high = Math.max(marks.windowStart(w.timeline()), windowStarts.getOrDefault(w.timeline(), 0L));
            if (w.windowStart() < high) {
                first.add(new Deletion(w.key(), 0, "superseded by the retention watermark of timeline "
                        + w.timeline() + " at LSN " + Lsn.format(high)));
            }
        }
        for (ObjectInfo o : listing.legacyPruned()) {
            first.add(new Deletion(o.key(), o.size(), "pruned-WAL record of an older walship (retention watermarks"
                    + " replace them)"));
        }
        deletions.addAll(0, first);
        return new Plan(keep.stream().map(b -> b.name().dir()).toList(), List.copyOf(pinned), deletions,
                Set.copyOf(listing.timelines()), List.copyOf(watermarks), java.util.Collections.unmodifiableMap(windowStarts));
    }

    /** Whether some kept backup needs the segment on some timeline's history. */
    static boolean needed(ArchiveListing.SegmentInfo s, Set<ArchiveListing.BackupInfo> keep, ArchiveListing listing,
                          Map<Integer, List<TimelineHistory.Span>> ancestries) {
        int x = s.name().timeline();
        for (List<TimelineHistory.Span> ancestry : ancestries.values()) {
            TimelineHistory.Span span = ancestry.stream().filter(sp -> sp.timeline() == x).findFirst().orElse(null);
            if (span == null) {
                continue;
            }
            List<ArchiveListing.BackupInfo> usable = RestorePlan.backupsOn(listing, ancestry);
            if (usable.stream().noneMatch(keep::contains)) {
                // no kept backup on this history (none taken yet, or one still uploading): its WAL is all there is
                return true;
            }
            for (ArchiveListing.BackupInfo b : usable) {
                if (!keep.contains(b)) {
                    continue;
                }
                long from = Math.max(b.name().lsn() + 1, span.fromLsn());
                if (s.name().lastLsn() >= from && s.name().firstLsn() <= span.toLsn()) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Deletes what the plan says, in its (interrupt-safe) order; reports each deletion. */
    public static long apply(ObjectStore store, Plan plan, Consumer<Deletion> deleted) {
        return apply(store, plan, deleted, dir -> LOG.warn("{} was pinned while retention ran: kept", dir));
    }

    /**
     * As {@link #apply(ObjectStore, Plan, Consumer)}; {@code pinnedMeanwhile} hears of each backup the
     * plan would delete that was pinned since the plan was made (it is kept).
     */
    public static long apply(ObjectStore store, Plan plan, Consumer<Deletion> deleted, Consumer<String> pinnedMeanwhile) {
        // the watermarks first: a run interrupted anywhere later has left them for every segment it deleted.
        // They also come before the look for new timelines below, and a promotion looks at them after its claim
        // (RetentionWatermark.forkUnprotected): of a promotion claiming while this run starts, at least one sees the other
        plan.watermarks().forEach(w -> RetentionWatermark.create(store, w));
        // a promotion elsewhere may have created a timeline since the listing: its needs are unknown to the plan
        Set<Integer> now = new java.util.TreeSet<>();
        for (ObjectInfo o : store.list(ArchiveLayout.TIMELINES, null)) {
            ArchiveLayout.parseHistory(o.key()).ifPresent(now::add);
        }
        if (!plan.timelines().containsAll(now)) {
            throw new io.walship.wal.WalshipException("a new timeline appeared in the archive while retention was"
                    + " planning (now " + now + "); nothing was deleted, run it again");
        }
        long bytes = 0;
        Set<ArchiveLayout.BackupName> spared = new java.util.HashSet<>();
        for (Deletion d : plan.deletions()) {
            java.util.Optional<ArchiveLayout.BackupName> backup = ArchiveLayout.parseBackup(d.key());
            if (backup.isPresent()) {
                ArchiveLayout.BackupName b = backup.get();
                if (spared.contains(b)) {
                    continue;
                }
                if (ArchiveLayout.isManifest(d.key())) {
                    switch (deleteUnlessPinned(store, b, plan)) {
                        case DELETED -> {
                            bytes += d.bytes();
                            deleted.accept(d);
                        }
                        case PINNED -> {
                            spared.add(b);
                            pinnedMeanwhile.accept(b.dir());
                        }
                        case BUILT_ON -> spared.add(b);
                        case GONE -> {
                            // deleted already (an interrupted run, or another one running): its other
                            // objects are each checked below, as the next ones are
                        }
                    }
                    continue;
                }
                if (!deletable(store, b)) {
                    spared.add(b);
                    continue;
                }
            }
            store.delete(d.key());
            bytes += d.bytes();
            deleted.accept(d);
        }
        return bytes;
    }

    /** How many times a manifest is put back before retention gives up (and fails, the pin keeping the rest). */
    static final int PUT_BACK_ATTEMPTS = 4;

    enum ManifestDelete { DELETED, PINNED, BUILT_ON, GONE }

    /**
     * Whether an object of backup {@code b} other than its manifest may be deleted now: the backup has
     * no manifest (another run may have put it back) and, checked last, right before the delete, no pin.
     */
    private static boolean deletable(ObjectStore store, ArchiveLayout.BackupName b) {
        if (store.head(b.manifestKey()).isPresent()) {
            LOG.warn("{} has its manifest again (another retention run put it back for a pin): kept", b.dir());
            return false;
        }
        if (store.head(b.pinKey()).isPresent()) {
            LOG.warn("{} is pinned: what is left of it is kept ('walship archive list' shows it)", b.dir());
            return false;
        }
        return true;
    }

    /**
     * Deletes a backup's manifest unless it is pinned, checking for a pin before and after: a pin
     * created in between (its creator saw the manifest and reported success) gets the manifest put
     * back with the same bytes, retried a few times; if that still fails the run fails, the pin
     * keeping the backup's other objects (a later run skips a pinned backup without a manifest too).
     * The manifest is deleted once, here; a manifest already gone is {@code GONE} and the caller
     * checks the pin again before each further object.
     */
    private static ManifestDelete deleteUnlessPinned(ObjectStore store, ArchiveLayout.BackupName b, Plan plan) {
        if (store.head(b.pinKey()).isPresent()) {
            return ManifestDelete.PINNED;
        }
        byte[] manifest;
        try (java.io.InputStream in = store.get(b.manifestKey())) {
            manifest = in.readAllBytes();
        } catch (io.walship.archive.ObjectNotFoundException e) {
            return ManifestDelete.GONE;
        } catch (java.io.IOException e) {
            throw new io.walship.archive.StorageException("read " + b.manifestKey() + ": " + e.getMessage(), e);
        }
        store.delete(b.manifestKey());
        boolean pinned = store.head(b.pinKey()).isPresent();
        java.util.Optional<String> child;
        try {
            child = pinned ? java.util.Optional.empty() : builtOn(store, b, plan);
        } catch (io.walship.archive.StorageException e) {
            // not knowing whether a new backup builds on it is no reason to delete it: kept, the next run decides
            child = java.util.Optional.of("(unknown: listing " + ArchiveLayout.BACKUPS + " failed: " + e.getMessage() + ")");
        }
        if (!pinned && child.isEmpty()) {
            return ManifestDelete.DELETED;
        }
        io.walship.archive.StorageException last = null;
        for (int attempt = 1; attempt <= PUT_BACK_ATTEMPTS; attempt++) {
            try {
                store.createOrSame(b.manifestKey(), manifest);
                if (pinned) {
                    LOG.warn("{} was pinned while retention deleted it: its manifest is back and the backup is kept", b.dir());
                    return ManifestDelete.PINNED;
                }
                LOG.warn("{} was deleted by retention as the incremental backup {} on it was written: its manifest is"
                        + " back and the backup is kept (the next run decides again)", b.dir(), child.get());
                return ManifestDelete.BUILT_ON;
            } catch (io.walship.archive.ObjectExistsException e) {
                throw e; // a different manifest under that key: nothing to put back over
            } catch (io.walship.archive.StorageException e) {
                last = e;
                LOG.warn("putting back the manifest of pinned {} failed (attempt {} of {}): {}", b.dir(), attempt,
                        PUT_BACK_ATTEMPTS, e.getMessage());
                if (attempt < PUT_BACK_ATTEMPTS) {
                    backOff(attempt);
                }
            }
        }
        LOG.error("manifest of {} {} that could not be put back ({}): {}", pinned ? "pinned" : "built-on", b.dir(),
                b.manifestKey(), new String(manifest, java.nio.charset.StandardCharsets.UTF_8));
        throw new io.walship.archive.StorageException(b.dir() + (pinned ? " was pinned" : " got the incremental backup "
                + child.get() + " built on it") + " while retention deleted its manifest, and putting the manifest back"
                + " failed " + PUT_BACK_ATTEMPTS + " times (" + last.getMessage() + ")" + (pinned ? "; the pin keeps the"
                + " rest of the backup" : "; that backup's chain is broken") + ", the manifest's content is in the log", last);
    }

    /**
     * The directory of a backup whose manifest (there now: written since the plan, or put back) names
     * {@code b} as its parent. Read are the manifests the plan did not keep (a kept backup's parents are
     * kept, so it builds on no deleted one); deletions go newest first, so a child the plan deletes too is
     * gone, or put back and then found here, before its parent's turn.
     */
    private static java.util.Optional<String> builtOn(ObjectStore store, ArchiveLayout.BackupName b, Plan plan) {
        Set<String> kept = new java.util.HashSet<>(plan.keptBackups());
        for (ObjectInfo o : store.list(ArchiveLayout.BACKUPS, null)) {
            if (!ArchiveLayout.isManifest(o.key())) {
                continue;
            }
            java.util.Optional<ArchiveLayout.BackupName> n = ArchiveLayout.parseBackup(o.key());
            if (n.isEmpty() || n.get().equals(b) || kept.contains(n.get().dir()) || n.get().lsn() < b.lsn()) {
                continue;
            }
            BackupManifest m;
            try {
                m = io.walship.archive.BackupChain.read(store, n.get());
            } catch (io.walship.archive.ObjectNotFoundException gone) {
                continue;
            } catch (io.walship.archive.StorageException e) {
                // written since the plan (the plan read every manifest it knew) or failing now: it may build on b,
                // so b is kept rather than deleted under it (the next run decides again)
                LOG.warn("could not read {} to see whether it builds on {} ({}); keeping {}", o.key(), b.dir(),
                        e.getMessage(), b.dir());
                return java.util.Optional.of(n.get().dir() + " (its manifest could not be read)");
            }
            if (m.incremental() && m.parent().name().equals(b)) {
                return java.util.Optional.of(n.get().dir());
            }
        }
        return java.util.Optional.empty();
    }

    private static void backOff(int attempt) {
        try {
            Thread.sleep(100L << attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new io.walship.archive.StorageException("interrupted while putting back a manifest", e);
        }
    }
}
