package io.walship.restorer;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.BackupManifest;
import io.walship.archive.CorruptObjectException;
import io.walship.archive.ObjectStore;
import io.walship.archive.StorageException;
import io.walship.archive.TimelineHistory;
import io.walship.wal.Lsn;

/**
 * What a restore will read, decided from one listing before anything is downloaded: the
 * timeline and its ancestry, the newest base backup the target can be reached from, and the
 * chain of segments after it in LSN order (each LSN taken once, even where segments overlap),
 * up to the first gap. Immutable.
 *
 * <p><b>Which timeline a default restore follows</b> (docs/OPERATIONS.md, "Timelines"): the newest
 * timeline, as PostgreSQL's {@code recovery_target_timeline=latest} does, except that a timeline
 * with no WAL past its fork is passed over while its parent's history goes on past that fork (a
 * promoted copy that never wrote, or a claim whose promotion never finished, must not cut every
 * restore short). The next newest timeline is then considered by the same rule. Whatever is
 * chosen, {@link #otherTimelines} names every history the restore does not follow and where it
 * ends, so a restore never silently stops short of a longer one.
 */
public final class RestorePlan {
    /** Entries {@code fromLsn..toLsn} of one segment. */
    public record Step(ArchiveListing.SegmentInfo segment, long fromLsn, long toLsn) {
        public String key() {
            return segment.name().key();
        }

        public int timeline() {
            return segment.name().timeline();
        }
    }

    /**
     * Segments from an LSN onwards along a timeline's ancestry: they cover {@code from..end}
     * without a hole; {@code gap} is the missing range after {@code end} when the archive holds
     * WAL beyond it (null when the chain simply reaches the end of the archive).
     */
    public record Chain(List<Step> steps, long end, ArchiveListing.Range gap) {
    }

    /**
     * A history the restore does not follow.
     *
     * @param timeline the timeline
     * @param parent   the timeline it forked from (0 for timeline 1)
     * @param forkLsn  the last LSN it shares with its parent (0 for timeline 1)
     * @param endLsn   the last LSN of its history the archive holds
     * @param note     one line for the operator: why it is not followed and how to follow it
     */
    public record OtherTimeline(int timeline, int parent, long forkLsn, long endLsn, String note) {
    }

    private final int timeline;
    private List<OtherTimeline> others = List.of();
    /** The archive the plan was made from (only to explain a gap on the failure path). */
    ObjectStore store;
    private final List<TimelineHistory.Span> ancestry;
    private final ArchiveListing.BackupInfo backup;
    private final BackupManifest manifest;
    private final Chain chain;
    /** The base backup's chain, full backup first: just the backup if it is a full one. */
    private List<BackupManifest> backupChain = List.of();

    private RestorePlan(int timeline, List<TimelineHistory.Span> ancestry, ArchiveListing.BackupInfo backup,
                        BackupManifest manifest, Chain chain) {
        this.timeline = timeline;
        this.ancestry = ancestry;
        this.backup = backup;
        this.manifest = manifest;
        this.chain = chain;
    }

    /**
     * Plans a restore of {@code timeline} (0: the newest timeline in the archive) to {@code target}.
     *
     * @throws RestoreException if no base backup can reach the target or the WAL after it has a
     *                          gap before the target (nothing has been downloaded yet)
     * @throws CorruptObjectException if a manifest or history record it needs is unreadable
     */
    public static RestorePlan make(ObjectStore store, ArchiveListing listing, int timeline, RestoreTarget target) {
        return make(store, listing, timeline, target, Long.MAX_VALUE);
    }

    /** As {@link #make(ObjectStore, ArchiveListing, int, RestoreTarget)}, using only backups below {@code backupBelowLsn}. */
    public static RestorePlan make(ObjectStore store, ArchiveListing listing, int timeline, RestoreTarget target,
                                   long backupBelowLsn) {
        return make(store, listing, TimelineHistory.readAll(store, listing), n -> readManifest(store, n), timeline,
                target, backupBelowLsn);
    }

    /**
     * As {@link #make(ObjectStore, ArchiveListing, int, RestoreTarget, long)}, with the listing's history records and a
     * manifest reader from a caller that has read them already ({@code archive verify}: no second GET of each). The
     * records must be every one the listing names; {@code manifests} must check what it returns as
     * {@link #readManifest} does.
     */
    static RestorePlan make(ObjectStore store, ArchiveListing listing, Map<Integer, TimelineHistory> histories,
                            java.util.function.Function<ArchiveLayout.BackupName, BackupManifest> manifests, int timeline,
                            RestoreTarget target, long backupBelowLsn) {
        int tl = chooseTimeline(listing, histories, timeline);
        List<TimelineHistory.Span> ancestry = TimelineHistory.ancestry(tl, histories);
        List<OtherTimeline> others = otherTimelines(listing, histories, tl, ancestry);
        List<ArchiveListing.BackupInfo> onPath = new ArrayList<>(backupsOn(listing, ancestry));
        onPath.removeIf(b -> b.name().lsn() >= backupBelowLsn);
        if (onPath.isEmpty()) {
            throw new RestoreException("the archive has no base backup on timeline " + tl
                    + (ancestry.size() > 1 ? " or its ancestors" : "") + "; take one with 'walship backup'");
        }
        ArchiveListing.BackupInfo chosen = null;
        BackupManifest chosenManifest = null;
        for (ArchiveListing.BackupInfo b : onPath) {
            if (target.kind() == RestoreTarget.Kind.LSN && !target.includes(b.name().lsn(), 0)) {
                continue;
            }
            BackupManifest m = manifests.apply(b.name());
            if (target.includes(b.name().lsn(), m.commitTimeMicros())) {
                chosen = b;
                chosenManifest = m;
                break;
            }
        }
        if (chosen == null) {
            ArchiveListing.BackupInfo oldest = onPath.get(onPath.size() - 1);
            BackupManifest m = manifests.apply(oldest.name());
            throw new RestoreException("the target (" + target.describe() + ") is older than every base backup: the"
                    + " oldest is at LSN " + Lsn.format(oldest.name().lsn()) + ", committed " + m.commitTime());
        }
        Chain chain = chain(listing, ancestry, chosen.name().lsn() + 1);
        if (target.kind() == RestoreTarget.Kind.LSN) {
            long need = target.exclusive() ? target.lsn() - 1 : target.lsn();
            if (chain.end() < need) {
                throw unreachable(store, chain, tl, target);
            }
            chain = trim(chain, need);
        } else if (target.kind() == RestoreTarget.Kind.END && chain.gap() != null) {
            throw unreachable(store, chain, tl, target);
        }
        RestorePlan plan = new RestorePlan(tl, ancestry, chosen, chosenManifest, chain);
        // an incremental backup's parents, each link checked, before anything is downloaded (a broken chain: exit 3)
        plan.backupChain = io.walship.archive.BackupChain.resolve(chosenManifest, chosen.name().manifestKey(),
                manifests::apply, n -> TimelineHistory.onAncestry(n, ancestry));
        plan.others = others;
        plan.store = store;
        return plan;
    }

    /** The fork LSN of a timeline (0 for timeline 1 or one without a record). */
    private static long forkOf(Map<Integer, TimelineHistory> histories, int t) {
        TimelineHistory h = histories.get(t);
        return h == null ? 0 : h.forkLsnValue();
    }

    /** The last LSN of the timeline's history in the archive: its own last WAL LSN, or its fork if it has none past it. */
    static long endOf(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int t) {
        return Math.max(listing.lastArchivedLsn(t), forkOf(histories, t));
    }

    /** Whether timeline {@code t} has WAL of its own past its fork. */
    static boolean hasOwnWal(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int t) {
        return listing.lastArchivedLsn(t) > forkOf(histories, t);
    }

    /**
     * Every timeline other than {@code followed} whose history goes somewhere the followed one
     * does not: timelines off its ancestry, and ancestors that go on past the point where the
     * followed history leaves them.
     */
    static List<OtherTimeline> otherTimelines(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int followed,
                                              List<TimelineHistory.Span> ancestry) {
        long followedEnd = endOf(listing, histories, followed);
        List<OtherTimeline> out = new ArrayList<>();
        for (int t : listing.timelines()) {
            if (t == followed) {
                continue;
            }
            TimelineHistory h = histories.get(t);
            int parent = h == null ? 0 : h.parent();
            long fork = forkOf(histories, t);
            long end = endOf(listing, histories, t);
            Optional<TimelineHistory.Span> span = ancestry.stream().filter(x -> x.timeline() == t).findFirst();
            String note;
            if (span.isPresent()) {
                if (end <= span.get().toLsn()) {
                    continue; // an ancestor that ends where the followed history leaves it
                }
                note = "timeline " + t + " goes on to LSN " + Lsn.format(end) + ", past LSN " + Lsn.format(span.get().toLsn())
                        + " where timeline " + followed + " forked from it; not followed (--timeline " + t + " follows it)";
            } else if (!hasOwnWal(listing, histories, t)) {
                note = "timeline " + t + " (forked from timeline " + parent + " after LSN " + Lsn.format(fork)
                        + ") has no WAL past its fork; not followed (--timeline " + t + " restores it)";
            } else {
                note = "timeline " + t + " (forked from timeline " + parent + " after LSN " + Lsn.format(fork)
                        + ") ends at LSN " + Lsn.format(end) + "; not followed (--timeline " + t + " follows it)";
            }
            out.add(new OtherTimeline(t, parent, fork, end, note));
        }
        if (out.stream().anyMatch(o -> o.endLsn() > followedEnd)) {
            org.slf4j.LoggerFactory.getLogger(RestorePlan.class).warn("timeline {} ends at LSN {}, another history in"
                    + " the archive goes further: {}", followed, Lsn.format(followedEnd), out);
        }
        return List.copyOf(out);
    }

    static RestoreException unreachable(ObjectStore store, Chain chain, int timeline, RestoreTarget target) {
        if (chain.gap() != null) {
            String range = "WAL LSN " + Lsn.format(chain.gap().firstLsn()) + ".." + Lsn.format(chain.gap().lastLsn());
            // only on this failure path is retention/ listed: a gap below the watermark is the policy's, not a loss
            // (on a stretch this timeline's path shares with another's, that timeline's watermark counts too)
            java.util.OptionalLong below = java.util.OptionalLong.empty();
            long own = 0;
            Optional<ArchiveListing.BackupInfo> after = Optional.empty();
            try {
                if (store != null) {
                    ArchiveListing listing = ArchiveListing.of(store);
                    io.walship.archive.RetentionWatermark.Scan marks = io.walship.archive.RetentionWatermark.scan(store);
                    Map<Integer, TimelineHistory> histories = new java.util.HashMap<>();
                    for (int t : listing.histories()) {
                        try {
                            histories.put(t, TimelineHistory.readOne(store, t));
                        } catch (StorageException e) {
                            // a timeline whose history cannot be read shares nothing verifiably
                        }
                    }
                    Map<Integer, List<TimelineHistory.Span>> ancestries =
                            io.walship.archive.RetentionWatermark.ancestries(listing, histories);
                    own = marks.windowStart(timeline);
                    below = marks.prunedBelow(timeline, chain.gap(), ancestries);
                    List<TimelineHistory.Span> path = ancestries.get(timeline);
                    if (path != null) {
                        after = backupsOn(listing, path).stream().filter(b -> b.name().lsn() >= chain.gap().lastLsn())
                                .min(Comparator.comparingLong(b -> b.name().lsn()));
                    }
                }
            } catch (StorageException e) {
                org.slf4j.LoggerFactory.getLogger(RestorePlan.class).warn("reading the retention watermarks: {}",
                        e.getMessage());
            }
            if (below.isPresent()) {
                long l = below.getAsLong();
                // past the gap is not enough: the restore needs a base backup at or after the gap's end
                String instead = after.map(b -> ", or to LSN " + Lsn.format(b.name().lsn()) + " or later (base backup "
                        + b.name().dir() + ", the first after the gap)").orElse("");
                return new RestoreException(range + " was pruned by retention (" + (l == own ? "timeline " + timeline
                        + " keeps WAL only from its window start, LSN " + Lsn.format(l) : "this stretch of timeline "
                        + timeline + "'s path, shared with another timeline, is kept only from that timeline's window"
                        + " start, LSN " + Lsn.format(l)) + "), so " + target.describe() + " cannot be reached: restore"
                        + " to LSN " + Lsn.format(chain.end()) + " at most" + instead);
            }
            return new RestoreException(range + " is missing from the archive (timeline " + timeline
                    + "), so " + target.describe() + " cannot be reached; nothing after the gap is used");
        }
        return new RestoreException("the archive ends at LSN " + Lsn.format(chain.end()) + " on timeline " + timeline
                + ", before the target (" + target.describe() + "); it may not be archived yet");
    }

    private static int chooseTimeline(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int timeline) {
        if (listing.timelines().isEmpty()) {
            throw new RestoreException("the archive is empty: no base backups, WAL or timelines");
        }
        if (timeline == 0) {
            return latest(listing, histories);
        }
        if (!listing.timelines().contains(timeline)) {
            throw new RestoreException("timeline " + timeline + " is not in the archive (it has " + listing.timelines() + ")");
        }
        return timeline;
    }

    /**
     * The timeline a default restore follows: the newest, passing over a timeline with no WAL past
     * its fork while its parent's history goes on past that fork (see the class comment).
     */
    static int latest(ArchiveListing listing, Map<Integer, TimelineHistory> histories) {
        List<Integer> newestFirst = new ArrayList<>(listing.timelines());
        newestFirst.sort(Comparator.reverseOrder());
        for (int t : newestFirst) {
            TimelineHistory h = histories.get(t);
            if (h == null || hasOwnWal(listing, histories, t)) {
                return t;
            }
            if (endOf(listing, histories, h.parent()) <= h.forkLsnValue()) {
                return t; // its parent stops at the fork: nothing longer is passed over
            }
        }
        return newestFirst.get(newestFirst.size() - 1);
    }

    /** Backups whose LSN lies on the ancestry, newest first. */
    public static List<ArchiveListing.BackupInfo> backupsOn(ArchiveListing listing, List<TimelineHistory.Span> ancestry) {
        List<ArchiveListing.BackupInfo> out = new ArrayList<>();
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            if (TimelineHistory.onAncestry(b.name(), ancestry)) {
                out.add(b);
            }
        }
        out.sort(Comparator.comparingLong((ArchiveListing.BackupInfo b) -> b.name().lsn())
                .thenComparingInt(b -> b.name().timeline()).reversed());
        return out;
    }

    public static BackupManifest readManifest(ObjectStore store, ArchiveLayout.BackupName name) {
        String key = name.manifestKey();
        BackupManifest m;
        try (InputStream in = store.get(key)) {
            m = BackupManifest.read(new java.io.ByteArrayInputStream(in.readAllBytes()), key);
        } catch (IOException e) {
            throw new StorageException("read " + key + ": " + e.getMessage(), e);
        }
        long lsn;
        try {
            lsn = Lsn.parse(m.lsn());
        } catch (IllegalArgumentException e) {
            throw new CorruptObjectException(key, "manifest LSN '" + m.lsn() + "' does not parse");
        }
        if (lsn != name.lsn() || m.timeline() != name.timeline()) {
            throw new CorruptObjectException(key, "manifest says timeline " + m.timeline() + " LSN " + m.lsn()
                    + ", its key says timeline " + name.timeline() + " LSN " + Lsn.format(name.lsn()));
        }
        if (!m.imageKey().startsWith(name.dir())) {
            throw new CorruptObjectException(key, "manifest names image " + m.imageKey() + " outside its backup");
        }
        return m;
    }

    /**
     * The segments that carry LSNs {@code from} onwards along {@code ancestry}, taking each LSN
     * once: where segments overlap, the one reaching furthest is used. Stops at the first gap.
     */
    public static Chain chain(ArchiveListing listing, List<TimelineHistory.Span> ancestry, long from) {
        List<Step> steps = new ArrayList<>();
        long next = from;
        for (int si = 0; si < ancestry.size(); si++) {
            TimelineHistory.Span span = ancestry.get(si);
            if (span.toLsn() < next) {
                continue;
            }
            List<ArchiveListing.SegmentInfo> segs = listing.segments(span.timeline());
            int i = 0;
            ArchiveListing.SegmentInfo best = null;
            while (next <= span.toLsn()) {
                while (i < segs.size() && segs.get(i).name().firstLsn() <= next) {
                    if (best == null || segs.get(i).name().lastLsn() > best.name().lastLsn()) {
                        best = segs.get(i);
                    }
                    i++;
                }
                if (best == null || best.name().lastLsn() < next) {
                    long missing = next;
                    Optional<Long> later = laterWal(listing, ancestry, si, missing);
                    return new Chain(steps, missing - 1, later.map(l -> new ArchiveListing.Range(missing, l - 1)).orElse(null));
                }
                long to = Math.min(best.name().lastLsn(), span.toLsn());
                steps.add(new Step(best, next, to));
                next = to + 1;
            }
        }
        return new Chain(steps, next - 1, null);
    }

    /** The first LSN after {@code next} that some segment on the ancestry (from span {@code si}) holds. */
    private static Optional<Long> laterWal(ArchiveListing listing, List<TimelineHistory.Span> ancestry, int si, long next) {
        for (int j = si; j < ancestry.size(); j++) {
            TimelineHistory.Span span = ancestry.get(j);
            long best = Long.MAX_VALUE;
            for (ArchiveListing.SegmentInfo s : listing.segments(span.timeline())) {
                long first = Math.max(s.name().firstLsn(), span.fromLsn());
                long last = Math.min(s.name().lastLsn(), span.toLsn());
                if (first <= last && last >= next) {
                    best = Math.min(best, Math.max(first, next));
                }
            }
            if (best != Long.MAX_VALUE) {
                return Optional.of(best);
            }
        }
        return Optional.empty();
    }

    private static Chain trim(Chain chain, long lastLsn) {
        List<Step> out = new ArrayList<>();
        for (Step s : chain.steps()) {
            if (s.fromLsn() > lastLsn) {
                break;
            }
            out.add(new Step(s.segment(), s.fromLsn(), Math.min(s.toLsn(), lastLsn)));
        }
        return new Chain(out, Math.min(chain.end(), lastLsn), null);
    }

    public int timeline() {
        return timeline;
    }

    /** Histories in the archive this plan does not follow, and where they end (see {@link OtherTimeline}). */
    public List<OtherTimeline> otherTimelines() {
        return others;
    }

    public List<TimelineHistory.Span> ancestry() {
        return ancestry;
    }

    public ArchiveListing.BackupInfo backup() {
        return backup;
    }

    public BackupManifest manifest() {
        return manifest;
    }

    /** The base backup's chain, full backup first and {@link #manifest} last (one element for a full backup). */
    public List<BackupManifest> backupChain() {
        return backupChain;
    }

    public List<Step> steps() {
        return chain.steps();
    }

    public Chain chain() {
        return chain;
    }

    /** The timeline an LSN belongs to on this plan's ancestry. */
    public int timelineAt(long lsn) {
        for (TimelineHistory.Span s : ancestry) {
            if (s.contains(lsn)) {
                return s.timeline();
            }
        }
        return ancestry.get(ancestry.size() - 1).timeline();
    }
}
