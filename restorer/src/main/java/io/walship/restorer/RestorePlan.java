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

    private final int timeline;
    private final List<TimelineHistory.Span> ancestry;
    private final ArchiveListing.BackupInfo backup;
    private final BackupManifest manifest;
    private final Chain chain;

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
        Map<Integer, TimelineHistory> histories = TimelineHistory.readAll(store, listing);
        int tl = chooseTimeline(listing, timeline);
        List<TimelineHistory.Span> ancestry = TimelineHistory.ancestry(tl, histories);
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
            BackupManifest m = readManifest(store, b.name());
            if (target.includes(b.name().lsn(), m.commitTimeMicros())) {
                chosen = b;
                chosenManifest = m;
                break;
            }
        }
        if (chosen == null) {
            ArchiveListing.BackupInfo oldest = onPath.get(onPath.size() - 1);
            BackupManifest m = readManifest(store, oldest.name());
            throw new RestoreException("the target (" + target.describe() + ") is older than every base backup: the"
                    + " oldest is at LSN " + Lsn.format(oldest.name().lsn()) + ", committed " + m.commitTime());
        }
        Chain chain = chain(listing, ancestry, chosen.name().lsn() + 1);
        if (target.kind() == RestoreTarget.Kind.LSN) {
            long need = target.exclusive() ? target.lsn() - 1 : target.lsn();
            if (chain.end() < need) {
                throw unreachable(chain, tl, target);
            }
            chain = trim(chain, need);
        } else if (target.kind() == RestoreTarget.Kind.END && chain.gap() != null) {
            throw unreachable(chain, tl, target);
        }
        return new RestorePlan(tl, ancestry, chosen, chosenManifest, chain);
    }

    static RestoreException unreachable(Chain chain, int timeline, RestoreTarget target) {
        if (chain.gap() != null) {
            return new RestoreException("WAL LSN " + Lsn.format(chain.gap().firstLsn()) + ".."
                    + Lsn.format(chain.gap().lastLsn()) + " is missing from the archive (timeline " + timeline
                    + "), so " + target.describe() + " cannot be reached; nothing after the gap is used");
        }
        return new RestoreException("the archive ends at LSN " + Lsn.format(chain.end()) + " on timeline " + timeline
                + ", before the target (" + target.describe() + "); it may not be archived yet");
    }

    private static int chooseTimeline(ArchiveListing listing, int timeline) {
        if (listing.timelines().isEmpty()) {
            throw new RestoreException("the archive is empty: no base backups, WAL or timelines");
        }
        if (timeline == 0) {
            return listing.timelines().stream().max(Integer::compare).orElseThrow();
        }
        if (!listing.timelines().contains(timeline)) {
            throw new RestoreException("timeline " + timeline + " is not in the archive (it has " + listing.timelines() + ")");
        }
        return timeline;
    }

    /** Backups whose LSN lies on the ancestry, newest first. */
    public static List<ArchiveListing.BackupInfo> backupsOn(ArchiveListing listing, List<TimelineHistory.Span> ancestry) {
        List<ArchiveListing.BackupInfo> out = new ArrayList<>();
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            for (TimelineHistory.Span s : ancestry) {
                // a backup taken right after a promotion sits at the fork LSN, one before its timeline's first entry
                if (s.timeline() == b.name().timeline() && b.name().lsn() >= s.fromLsn() - 1 && b.name().lsn() <= s.toLsn()) {
                    out.add(b);
                    break;
                }
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

    public List<TimelineHistory.Span> ancestry() {
        return ancestry;
    }

    public ArchiveListing.BackupInfo backup() {
        return backup;
    }

    public BackupManifest manifest() {
        return manifest;
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
