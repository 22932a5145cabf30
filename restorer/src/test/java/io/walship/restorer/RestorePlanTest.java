package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.TimelineHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The segment chain a restore reads: each LSN once, overlaps resolved, gaps found, ancestry followed. */
class RestorePlanTest {
    @TempDir
    Path tmp;

    private ArchiveListing listing(int[][] segments) {
        try (ObjectStore s = new LocalObjectStore(tmp.resolve("a" + System.nanoTime()))) {
            for (int[] seg : segments) {
                s.create(new ArchiveLayout.SegmentName(seg[0], seg[1], seg[2]).key(), new ByteArrayInputStream(new byte[0]));
            }
            return ArchiveListing.of(s);
        }
    }

    private static String steps(RestorePlan.Chain c) {
        StringBuilder b = new StringBuilder();
        for (RestorePlan.Step s : c.steps()) {
            b.append(s.timeline()).append(':').append(s.segment().name().firstLsn()).append('-')
                    .append(s.segment().name().lastLsn()).append('@').append(s.fromLsn()).append("..").append(s.toLsn()).append(' ');
        }
        return b.toString().trim();
    }

    private static final List<TimelineHistory.Span> TL1 = TimelineHistory.ancestry(1, Map.of());

    @Test
    void overlappingSegmentsGiveEachLsnOnce() {
        RestorePlan.Chain c = RestorePlan.chain(listing(new int[][] {{1, 1, 10}, {1, 5, 20}, {1, 21, 30}}), TL1, 1);
        assertEquals("1:1-10@1..10 1:5-20@11..20 1:21-30@21..30", steps(c));
        assertEquals(30, c.end());
        assertNull(c.gap());
        // a longer copy of the same start wins
        c = RestorePlan.chain(listing(new int[][] {{1, 1, 10}, {1, 1, 15}, {1, 16, 20}}), TL1, 3);
        assertEquals("1:1-15@3..15 1:16-20@16..20", steps(c));
    }

    @Test
    void aGapEndsTheChainAndIsNamed() {
        RestorePlan.Chain c = RestorePlan.chain(listing(new int[][] {{1, 1, 10}, {1, 15, 20}}), TL1, 1);
        assertEquals("1:1-10@1..10", steps(c));
        assertEquals(10, c.end());
        assertEquals(new ArchiveListing.Range(11, 14), c.gap());
        // starting past the end: nothing, no gap
        c = RestorePlan.chain(listing(new int[][] {{1, 1, 10}}), TL1, 11);
        assertEquals("", steps(c));
        assertEquals(10, c.end());
        assertNull(c.gap());
    }

    @Test
    void theAncestryIsFollowedAcrossAForkAndTheParentsLaterWalIgnored() {
        TimelineHistory h = new TimelineHistory(1, 2, 1, ArchiveLayout.lsnHex(15), "t", "t", "test");
        List<TimelineHistory.Span> tl2 = TimelineHistory.ancestry(2, Map.of(2, h));
        ArchiveListing l = listing(new int[][] {{1, 1, 10}, {1, 11, 20}, {1, 21, 30}, {2, 16, 25}});
        RestorePlan.Chain c = RestorePlan.chain(l, tl2, 5);
        assertEquals("1:1-10@5..10 1:11-20@11..15 2:16-25@16..25", steps(c));
        assertEquals(25, c.end());
        assertNull(c.gap());
        // the new timeline's first segment is missing: a gap on timeline 2, never the parent's WAL
        c = RestorePlan.chain(listing(new int[][] {{1, 1, 20}, {1, 21, 30}, {2, 18, 25}}), tl2, 5);
        assertEquals("1:1-20@5..15", steps(c));
        assertEquals(new ArchiveListing.Range(16, 17), c.gap());
        // timeline 1 on its own still reads its whole WAL
        c = RestorePlan.chain(l, TL1, 1);
        assertEquals(30, c.end());
    }

    /**
     * review30: an inspection copy (restore --promote, no WAL of its own) claimed timeline 2; the live promotion of
     * the dead leader's follower passed it over and leads timeline 3, forked from timeline 1. A default restore
     * follows timeline 3, the live leader's; with only the copy and timeline 1 going on past its fork it follows
     * timeline 1, never the copy.
     */
    @Test
    void aDefaultRestoreFollowsTheLivePromotionsTimelineNotAnInspectionCopys() {
        TimelineHistory copy = new TimelineHistory(1, 2, 1, ArchiveLayout.lsnHex(15), "t", "t",
                "restore --promote to the end of the archive", TimelineHistory.OFFLINE);
        TimelineHistory live = new TimelineHistory(1, 3, 1, ArchiveLayout.lsnHex(25), "t", "t",
                "live promotion of f1 at LSN 0000000000000019", TimelineHistory.LIVE);
        ArchiveListing l = listing(new int[][] {{1, 1, 10}, {1, 11, 25}, {3, 26, 40}}, copy, live);
        assertEquals(List.of(1, 2, 3), List.copyOf(l.timelines()));
        assertEquals(3, RestorePlan.latest(l, Map.of(2, copy, 3, live)));
        ArchiveListing before = listing(new int[][] {{1, 1, 10}, {1, 11, 25}}, copy);
        assertEquals(List.of(1, 2), List.copyOf(before.timelines()));
        assertEquals(1, RestorePlan.latest(before, Map.of(2, copy)));
    }

    private ArchiveListing listing(int[][] segments, TimelineHistory... histories) {
        try (ObjectStore s = new LocalObjectStore(tmp.resolve("a" + System.nanoTime()))) {
            for (int[] seg : segments) {
                s.create(new ArchiveLayout.SegmentName(seg[0], seg[1], seg[2]).key(), new ByteArrayInputStream(new byte[0]));
            }
            for (TimelineHistory h : histories) {
                s.create(ArchiveLayout.historyKey(h.timeline()), new ByteArrayInputStream(h.toJson()));
            }
            return ArchiveListing.of(s);
        }
    }
}
