package io.walship.shipper;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.TimelineHistory;
import io.walship.wal.Lsn;

/**
 * Whether an archive can restore a promoted timeline as far as its fork, decided from the listing a
 * shipper's run made anyway (no request of its own): a restore of timeline {@code T} needs a base
 * backup on {@code T} itself, or one on {@code T}'s path at or before the fork from which the path's
 * WAL reaches the fork without a hole — the segments a restore would read ({@code RestorePlan.chain}:
 * each span of the ancestry from its timeline's segments). A second archive that was behind when the
 * leader died (its loop lagging, or an optional one) lacks the parent's last entries; a store restored
 * from another archive and promoted holds none of them, so shipping {@code T} there from the fork on
 * would leave a hole no restore of {@code T} crosses. The shipper refuses such an archive instead,
 * naming the hole and the fix, unless its own WAL holds the missing entries: then its run ships them
 * under their timeline before the new ones, as it already does for a live-promoted follower.
 *
 * <p>An archive with no base backup on the path at or before the fork (a second archive added after a
 * failover, a deployment that failed over before its first backup) is not refused: it restores nothing
 * on that path either way, and the base backup on {@code T} it needs (docs/OPERATIONS.md "Several
 * archives") starts from the WAL shipped to it.
 */
final class ForkReach {
    private ForkReach() {
    }

    /** What the check found: reached (nothing to do), or filled by this run's shipment; else {@code why} says what is missing. */
    record Verdict(boolean reached, boolean fills, String why) {
        static final Verdict REACHED = new Verdict(true, false, null);
        static final Verdict FILLS = new Verdict(false, true, null);
    }

    /**
     * @param histories      the records of {@code timeline} and its ancestors (the data directory's)
     * @param archived       the archive's end on {@code timeline} (0: nothing of it archived yet)
     * @param shipFrom       where this run's shipment would start if nothing of {@code timeline} is archived
     *                       ({@code WalShipper}'s promoted start)
     * @param firstLocal     the first LSN of the local WAL
     * @param describe       the archive, for the message
     * @param dataDir        the data directory, for the message
     */
    static Verdict check(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int timeline, long archived,
                         long shipFrom, long firstLocal, String describe, java.nio.file.Path dataDir) {
        List<TimelineHistory.Span> path = TimelineHistory.ancestry(timeline, histories);
        TimelineHistory h = histories.get(timeline);
        long fork = h.forkLsnValue();
        Map<Integer, List<ArchiveListing.Range>> coverage = new java.util.HashMap<>();
        for (TimelineHistory.Span sp : path) {
            coverage.put(sp.timeline(), listing.coverage(sp.timeline()));
        }
        long reach = -1;
        ArchiveLayout.BackupName from = null;
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            ArchiveLayout.BackupName n = b.name();
            if (n.timeline() == timeline) {
                return Verdict.REACHED; // a restore of the timeline starts from it: no WAL of the parent needed
            }
            if (!TimelineHistory.onAncestry(n, path) || n.lsn() > fork) {
                continue;
            }
            long r = reach(coverage, path, n.lsn() + 1, fork);
            if (r > reach) {
                reach = r;
                from = n;
            }
        }
        if (from == null || reach >= fork) {
            // from == null, no backup on the path at or before the fork: the archive restores nothing on this path,
            // with or without the new timeline's WAL, until a base backup on the timeline is taken into it, and that
            // backup then needs this WAL (a second archive added after a failover, a failover before the first backup)
            return Verdict.REACHED;
        }
        long shipsFrom = Math.max(shipFrom, firstLocal);
        if (from != null && archived == 0 && firstLocal > 0 && shipsFrom <= reach + 1) {
            return Verdict.FILLS; // this run ships LSN reach+1..fork from the local WAL before the new timeline
        }
        String fix = "take a base backup on timeline " + timeline + " into it (walship backup --data " + dataDir
                + " or --url LEADER, --archive URI)";
        String cannot;
        if (firstLocal <= 0) {
            cannot = "this data directory's WAL is empty, so it cannot ship them";
        } else if (firstLocal > reach + 1) {
            cannot = "this data directory's WAL starts at LSN " + Lsn.format(firstLocal) + ", so it cannot ship them";
        } else {
            // the local WAL holds the hole, but the shipment starts after the archive's end of the parent (the hole
            // lies inside the parent's archived WAL): shipping from there does not fill it
            cannot = "this run's shipment starts at LSN " + Lsn.format(shipsFrom) + ", after the archive's end of timeline "
                    + h.parent() + " (LSN " + Lsn.format(shipsFrom - 1) + "), so it does not fill a hole inside that WAL";
        }
        int holeTimeline = timelineAt(path, reach + 1);
        return new Verdict(false, false, describe + " cannot restore timeline " + timeline + ": it lacks timeline "
                + holeTimeline + "'s WAL from LSN " + Lsn.format(reach + 1) + " to timeline " + timeline + "'s fork at LSN "
                + Lsn.format(fork) + " (from its base backup " + from.dir() + " the WAL stops at LSN " + Lsn.format(reach)
                + ")" + (archived == 0 ? " and " + cannot : ", though timeline " + timeline + "'s WAL was shipped there")
                + "; " + fix + ", or copy timeline " + holeTimeline + "'s WAL up to LSN " + Lsn.format(fork)
                + " into it from an archive that holds it: nothing is shipped to it on timeline " + timeline
                + " until then");
    }

    /**
     * The hole a shipment of a promoted {@code timeline} with nothing of it archived yet would leave when the local WAL
     * starts past where the shipment should start (retention deleted its first files while the archive was out of
     * reach, an optional one): shipping from {@code firstLocal} on is fine only if a restore of the timeline from one
     * of the archive's base backups on its path (one on the timeline itself, or one before the fork and the path's WAL
     * from it) reaches {@code firstLocal - 1}. The same rule as on a timeline with WAL archived ({@code WalShipper}: "LSNs
     * in between are lost to the archive"). An archive with no base backup on the path is not refused (it restores
     * nothing on that path either way, as in {@link #check}).
     *
     * @return null if shipping from {@code firstLocal} leaves no hole a restore would stop at, else the refusal (one line)
     */
    static String lateStart(ArchiveListing listing, Map<Integer, TimelineHistory> histories, int timeline,
                            long firstLocal, String describe, java.nio.file.Path dataDir) {
        List<TimelineHistory.Span> path = TimelineHistory.ancestry(timeline, histories);
        Map<Integer, List<ArchiveListing.Range>> coverage = new java.util.HashMap<>();
        for (TimelineHistory.Span sp : path) {
            coverage.put(sp.timeline(), listing.coverage(sp.timeline()));
        }
        long upTo = firstLocal - 1;
        long reach = -1;
        ArchiveLayout.BackupName from = null;
        for (ArchiveListing.BackupInfo b : listing.backups()) {
            ArchiveLayout.BackupName n = b.name();
            if (!TimelineHistory.onAncestry(n, path)) {
                continue;
            }
            long r = reach(coverage, path, n.lsn() + 1, upTo); // n.lsn() itself for a backup at or past upTo
            if (r > reach) {
                reach = r;
                from = n;
            }
        }
        if (from == null || reach >= upTo) {
            return null;
        }
        return "the archive " + describe + " restores timeline " + timeline + " only up to LSN " + Lsn.format(reach)
                + " (from its base backup " + from.dir() + ") but this data directory's WAL now starts at LSN "
                + Lsn.format(firstLocal) + ": LSNs in between are lost to the archive (deleted from the WAL before"
                + " they were shipped to it); take a new base backup on timeline " + timeline + " into it (walship"
                + " backup --data " + dataDir + " or --url LEADER, --archive URI) so restores can start after the gap:"
                + " nothing is shipped to it on timeline " + timeline + " until then";
    }

    /**
     * The last LSN up to {@code upTo} that the path's segments ({@code coverage}: each timeline's merged ranges,
     * {@link ArchiveListing#coverage}) reach from {@code from} without a hole ({@code from - 1}: none).
     */
    static long reach(Map<Integer, List<ArchiveListing.Range>> coverage, List<TimelineHistory.Span> path, long from,
                      long upTo) {
        long next = from;
        for (TimelineHistory.Span sp : path) {
            if (next > upTo) {
                break;
            }
            if (sp.toLsn() < next) {
                continue;
            }
            long to = Math.min(sp.toLsn(), upTo);
            for (ArchiveListing.Range r : coverage.get(sp.timeline())) {
                if (r.firstLsn() <= next && r.lastLsn() >= next) {
                    next = Math.min(r.lastLsn(), to) + 1;
                }
            }
            if (next <= to) {
                return next - 1;
            }
        }
        return next - 1;
    }

    private static int timelineAt(List<TimelineHistory.Span> path, long lsn) {
        for (TimelineHistory.Span s : path) {
            if (s.contains(lsn)) {
                return s.timeline();
            }
        }
        return path.get(path.size() - 1).timeline();
    }

    /** The records of {@code timeline} and its ancestors from the data directory ({@link LocalHistories#ensure} made sure of them). */
    static Map<Integer, TimelineHistory> localHistories(java.nio.file.Path dataDir, int timeline) {
        Map<Integer, TimelineHistory> out = new java.util.HashMap<>();
        List<Integer> missing = new ArrayList<>();
        for (int t = timeline; t > 1; ) {
            var h = LocalHistories.read(dataDir, t);
            if (h.isEmpty()) {
                missing.add(t);
                break;
            }
            out.put(t, h.get());
            t = h.get().parent();
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("no history of timeline " + missing.get(0) + " in " + dataDir);
        }
        return out;
    }
}
