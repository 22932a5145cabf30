package io.walship.archive;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A retention watermark: the object {@code retention/TTTTTTTT-LLLLLLLLLLLLLLLL.json} (docs/FORMAT.md
 * "Retention watermarks"). It says: retention may delete WAL on timeline {@code T}'s path (its
 * ancestry, as a restore of {@code T} follows it) at LSNs below {@code L}, and never at or above
 * it. {@code L} is the window start: one past the LSN of the oldest base backup retention keeps on
 * that path (the point-in-time window of the kept backups begins there). A prune creates the watermark
 * of every timeline before it deletes anything, so a gap in the WAL on {@code T}'s path lying wholly
 * below the highest watermark of {@code T} is retention's doing, and any other gap is a loss.
 *
 * <p>Immutable like everything else: created with the conditional create, its bytes depend only on its
 * key (a rerun creates the same object, or finds it), never rewritten. A prune deletes a timeline's
 * lower watermarks only once one at least as high exists, so the highest is never deleted; since the
 * keys sort numerically, a listing of {@code retention/} always sees the highest one present.
 *
 * @param formatVersion of this document (1)
 * @param timeline      the timeline whose path the watermark is about
 * @param windowStart   {@code L}, 16 hex digits: retention deletes WAL on the path only below it
 */
public record RetentionWatermark(int formatVersion, int timeline, String windowStart) {
    public static final int FORMAT_VERSION = 1;

    public static RetentionWatermark of(ArchiveLayout.WatermarkName name) {
        return new RetentionWatermark(FORMAT_VERSION, name.timeline(), ArchiveLayout.lsnHex(name.windowStart()));
    }

    public byte[] toJson() {
        return ArchiveJson.write(this);
    }

    /**
     * Reads and checks a watermark, strictly (nothing after the document, no coercion between JSON types); one
     * that does not say what its key says is a corrupt object.
     */
    public static RetentionWatermark read(InputStream in, String key) {
        RetentionWatermark w = ArchiveJson.readStrict(in, RetentionWatermark.class, key, "retention watermark");
        if (w.formatVersion() != FORMAT_VERSION) {
            throw new CorruptObjectException(key, "retention watermark format version " + w.formatVersion()
                    + ", this walship reads " + FORMAT_VERSION);
        }
        Optional<ArchiveLayout.WatermarkName> named = ArchiveLayout.parseWatermark(key);
        if (named.isEmpty() || !of(named.get()).equals(w)) {
            throw new CorruptObjectException(key, "retention watermark does not say what its key names");
        }
        return w;
    }

    /** Creates the watermark (or finds the same one there: a rerun of an interrupted prune). */
    public static void create(ObjectStore store, ArchiveLayout.WatermarkName name) {
        store.createOrSame(name.key(), of(name).toJson());
    }

    /** The watermarks a listing of {@code retention/} names (by key only; nothing is read). */
    public static List<ArchiveLayout.WatermarkName> listNames(ObjectStore store) {
        List<ArchiveLayout.WatermarkName> out = new ArrayList<>();
        for (ObjectInfo o : store.list(ArchiveLayout.RETENTION, null)) {
            ArchiveLayout.parseWatermark(o.key()).ifPresent(out::add);
        }
        return out;
    }

    /** A watermark object that is not what its key says (or a key under {@code retention/} that names none). */
    public record Corrupt(String key, String detail) {
    }

    /**
     * The watermarks in force, read and checked: the highest window start of each timeline among the
     * watermarks that are sound, and the corrupt ones (which excuse nothing). A watermark deleted between
     * the listing and its read counts only if a sound one at least as high was read in the same scan (a prune deletes
     * one only once a higher one exists; a corrupt one deleted by hand has none), else it is ignored.
     * {@code sound} names every watermark counted (read and found sound, or deleted since the listing under one).
     */
    public record Scan(Map<Integer, Long> windowStarts, List<Corrupt> corrupt, List<ArchiveLayout.WatermarkName> sound) {
        /** The highest window start of {@code timeline}'s path, or 0 if it has no (sound) watermark. */
        public long windowStart(int timeline) {
            return windowStarts.getOrDefault(timeline, 0L);
        }

        /** Whether retention may have deleted every LSN up to {@code last} on {@code timeline}'s path (all below its window start). */
        public boolean pruned(int timeline, long last) {
            return last < windowStart(timeline);
        }

        /**
         * Whether retention may have deleted all of {@code gap} on timeline {@code t}'s path, and below which
         * window start: the gap is cut at the spans of {@code t}'s ancestry, and each piece (LSNs of some timeline
         * {@code x}) must lie below the watermark of {@code t} or of another timeline {@code u} whose path runs
         * through the same stretch of {@code x} (a timeline born after the last prune has no watermark yet, but
         * shares its parent's pruned WAL below the fork). Sound: retention keeps every segment on {@code u}'s path
         * reaching {@code u}'s window start, and a kept backup that would need the stretch lies below it on both
         * paths (they agree below it), so it would have held {@code u}'s window start at or below the stretch.
         * Returns the window start that excuses the gap's last piece, or empty if some piece is not excused.
         *
         * @param ancestries the ancestry of every timeline whose history could be read ({@code TimelineHistory.ancestry})
         */
        public java.util.OptionalLong prunedBelow(int t, ArchiveListing.Range gap,
                                                  Map<Integer, List<TimelineHistory.Span>> ancestries) {
            if (gap.lastLsn() < windowStart(t)) {
                return java.util.OptionalLong.of(windowStart(t));
            }
            List<TimelineHistory.Span> path = ancestries.get(t);
            if (path == null) {
                return java.util.OptionalLong.empty();
            }
            long next = gap.firstLsn();
            long shown = 0;
            for (TimelineHistory.Span sp : path) {
                long from = Math.max(next, sp.fromLsn());
                long to = Math.min(gap.lastLsn(), sp.toLsn());
                if (from > to) {
                    continue;
                }
                if (from != next) {
                    return java.util.OptionalLong.empty(); // part of the gap on no span of the path
                }
                long best = windowStart(t);
                for (Map.Entry<Integer, List<TimelineHistory.Span>> u : ancestries.entrySet()) {
                    for (TimelineHistory.Span su : u.getValue()) {
                        if (su.timeline() == sp.timeline() && su.contains(from) && su.contains(to)) {
                            best = Math.max(best, windowStart(u.getKey()));
                        }
                    }
                }
                if (to >= best) {
                    return java.util.OptionalLong.empty();
                }
                shown = best;
                if (to == gap.lastLsn()) {
                    return java.util.OptionalLong.of(shown);
                }
                next = to + 1;
            }
            return java.util.OptionalLong.empty();
        }
    }

    /** The ancestry of every timeline the listing knows whose history can be read (the others are left out). */
    public static Map<Integer, List<TimelineHistory.Span>> ancestries(ArchiveListing listing,
                                                                    Map<Integer, TimelineHistory> histories) {
        Map<Integer, List<TimelineHistory.Span>> out = new TreeMap<>();
        java.util.Set<Integer> all = new java.util.TreeSet<>(listing.timelines());
        all.addAll(listing.histories());
        for (int t : all) {
            try {
                out.put(t, TimelineHistory.ancestry(t, histories));
            } catch (StorageException e) {
                // a timeline whose start is unknown shares nothing verifiably
            }
        }
        return out;
    }

    /**
     * Why {@code archive} may be unable to restore {@code timeline}, or empty if it can as far as retention goes:
     * its retention may have pruned (or be pruning) the backup the timeline forked from and the WAL after it.
     * Retention keeps, per timeline it knows, the newest backup that timeline can restore from; a prune that
     * planned before the timeline's history record was in the archive (one running while a promotion replays or
     * claims, or a prune of a second archive the new timeline had not been shipped to yet) did not know it. Such a
     * prune creates its watermarks before it looks for new timelines (and refuses if one appeared), and this is
     * called after the record is there: of the two, at least one sees the other's write.
     *
     * <p>Walking down from {@code timeline}, at each fork (timeline {@code t} from parent {@code p} after LSN
     * {@code f}) the parent's highest watermark decides: past {@code f + 1}, every backup at or before the fork and
     * the WAL after it may be gone or going (unprotected — unless the archive holds a backup on {@code timeline}
     * itself, which only prunes that know the timeline delete, and they keep its newest); at or below it, the prune
     * that made it kept a backup at or before the fork with its WAL, and every later one knows {@code t} — protected
     * if such a backup is still on the parent's path (a second prune running beside the first, with another
     * listing, may have deleted it: its own lower watermark is not created under a higher one); with no
     * watermark of the parent, nothing on its path was pruned and a prune that starts now sees {@code t}, so a
     * backup on the parent at or before the fork protects, and without one the parent's own fork is looked at.
     * Watermarks that cannot be read (corrupt, or a read that failed) count at the window start their key names:
     * here a watermark too many costs a backup, one too few could cost the timeline.
     *
     * <p>Before that walk, the whole ancestry: an ancestor whose history record the archive lacks (a timeline claimed
     * and shipped in another archive) is unprotected too — a shipper uploads a timeline's history before any of its
     * WAL, so the archive lacks that timeline's WAL, and the backups on the path below it cannot reach the fork. The
     * record of such an ancestor is never asked for. {@code history} gives the record of each timeline above 1 on
     * the way (a caller may read the data directory's first: the same records).
     */
    public static Optional<String> forkUnprotected(ObjectStore archive, int timeline,
                                                   java.util.function.IntFunction<TimelineHistory> history) {
        Scan scan = scan(archive);
        Map<Integer, Long> marks = new TreeMap<>(scan.windowStarts());
        for (Corrupt c : scan.corrupt()) {
            ArchiveLayout.parseWatermark(c.key()).ifPresent(n -> marks.merge(n.timeline(), n.windowStart(), Math::max));
        }
        Map<Integer, List<Long>> backups = backupLsns(archive);
        String why = ancestorNotHere(archive, timeline, history);
        for (int t = timeline; t > 1 && why == null; ) {
            TimelineHistory h = history.apply(t);
            long fork = h.forkLsnValue();
            int parent = h.parent();
            long windowStart = marks.getOrDefault(parent, 0L);
            if (windowStart > fork + 1) {
                why = "its retention keeps timeline " + parent + "'s WAL only from LSN " + ArchiveLayout.lsnHex(windowStart)
                        + ", past timeline " + t + "'s fork at LSN " + h.forkLsn() + " (a prune that did not know timeline "
                        + t + " yet)";
            } else if (windowStart > 0) {
                // the prune that made it kept a backup at or before the fork; one running beside it with another
                // listing may have deleted that one (its own lower watermark is not created under a higher one)
                if (onPathAtOrBefore(backups, parent, fork, history)) {
                    return Optional.empty();
                }
                why = "no base backup at or before timeline " + t + "'s fork at LSN " + h.forkLsn() + " is left on timeline "
                        + parent + "'s path (two prunes at once, each keeping another)";
            } else if (parent == 1 || backups.getOrDefault(parent, List.of()).stream().anyMatch(l -> l <= fork)) {
                return Optional.empty();
            } else {
                t = parent;
            }
        }
        if (why == null || backups.containsKey(timeline)) {
            return Optional.empty(); // a backup on the timeline itself: only prunes that know it delete, keeping its newest
        }
        return Optional.of(why + ", and it holds no base backup on timeline " + timeline);
    }

    /**
     * Why {@code archive} lacks WAL on {@code timeline}'s path: the nearest ancestor (above 1) whose history record
     * it does not hold (a shipper uploads a timeline's history before any of its WAL); null if it holds every one.
     * One HEAD per ancestor above 1 (none for a fork of timeline 1); a record created meanwhile only costs a backup.
     */
    private static String ancestorNotHere(ObjectStore archive, int timeline,
                                          java.util.function.IntFunction<TimelineHistory> history) {
        for (int t = timeline; t > 1; ) {
            int parent = history.apply(t).parent();
            if (parent > 1 && archive.head(ArchiveLayout.historyKey(parent)).isEmpty()) {
                return "timeline " + t + " forked from timeline " + parent + ", whose history is not in "
                        + archive.describe() + " (claimed and shipped in another archive): nor is its WAL, which a"
                        + " shipper uploads only after the history";
            }
            t = parent;
        }
        return null;
    }

    /** Whether a backup on timeline {@code t}'s path (through its ancestors) lies at or before LSN {@code upTo}. */
    private static boolean onPathAtOrBefore(Map<Integer, List<Long>> backups, int t, long upTo,
                                            java.util.function.IntFunction<TimelineHistory> history) {
        long limit = upTo;
        for (int x = t; ; ) {
            long l = limit;
            if (backups.getOrDefault(x, List.of()).stream().anyMatch(b -> b <= l)) {
                return true;
            }
            if (x == 1) {
                return false;
            }
            TimelineHistory h = history.apply(x);
            limit = Math.min(limit, h.forkLsnValue());
            x = h.parent();
        }
    }

    /** The LSNs of the backups with a manifest in {@code archive}, by timeline. */
    private static Map<Integer, List<Long>> backupLsns(ObjectStore archive) {
        Map<Integer, List<Long>> out = new TreeMap<>();
        for (ObjectInfo o : archive.list(ArchiveLayout.BACKUPS, null)) {
            if (ArchiveLayout.isManifest(o.key())) {
                ArchiveLayout.parseBackup(o.key()).ifPresent(b -> out.computeIfAbsent(b.timeline(), k -> new ArrayList<>())
                        .add(b.lsn()));
            }
        }
        return out;
    }

    /** Lists {@code retention/} and reads every watermark there (see {@link Scan}). */
    public static Scan scan(ObjectStore store) {
        return scan(store, true);
    }

    private static Scan scan(ObjectStore store, boolean mayListAgain) {
        Map<Integer, Long> max = new TreeMap<>();
        List<Corrupt> corrupt = new ArrayList<>();
        List<ArchiveLayout.WatermarkName> sound = new ArrayList<>();
        List<ArchiveLayout.WatermarkName> gone = new ArrayList<>();
        for (ObjectInfo o : store.list(ArchiveLayout.RETENTION, null)) {
            Optional<ArchiveLayout.WatermarkName> name = ArchiveLayout.parseWatermark(o.key());
            if (name.isEmpty()) {
                corrupt.add(new Corrupt(o.key(), "not a retention watermark's key (retention/TTTTTTTT-LLLLLLLLLLLLLLLL.json)"));
                continue;
            }
            try (InputStream in = store.get(o.key())) {
                read(in, o.key());
            } catch (ObjectNotFoundException e) {
                gone.add(name.get()); // deleted since the listing: judged below
                continue;
            } catch (EncryptionKeyException e) {
                throw e; // a key this process lacks says nothing about the watermark: exit 2, not corrupt
            } catch (IOException | StorageException e) {
                String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
                corrupt.add(new Corrupt(o.key(), m.lines().findFirst().orElse(m)));
                continue;
            }
            max.merge(name.get().timeline(), name.get().windowStart(), Math::max);
            sound.add(name.get());
        }
        // A watermark deleted since the listing counts only under a sound one at least as high read here: a prune
        // deletes a sound watermark only once a higher one exists, but a corrupt one is deleted by hand with nothing
        // higher, and counting its key would let it supersede the sound one below it. One not so covered is read
        // from a second listing (a higher one created after this listing); if still not covered, it is ignored:
        // a watermark too few makes verify report a gap it might have excused, never excuse one it should not.
        for (ArchiveLayout.WatermarkName g : gone) {
            if (max.getOrDefault(g.timeline(), 0L) >= g.windowStart()) {
                sound.add(g);
            } else if (mayListAgain) {
                return scan(store, false);
            }
        }
        return new Scan(Map.copyOf(max), List.copyOf(corrupt), List.copyOf(sound));
    }
}
