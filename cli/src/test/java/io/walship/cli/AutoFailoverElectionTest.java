package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import io.walship.archive.FollowerStatus;
import io.walship.archive.LeaseRecord;
import org.junit.jupiter.api.Test;

/**
 * The election of automatic failover (docs/OPERATIONS.md, "Automatic failover"): the highest
 * flushed LSN wins, ties go to the smallest node id, only fresh objects on this node's timeline
 * take part, a passed-over winner is skipped; and the timings derived from the flags.
 */
class AutoFailoverElectionTest {
    private static final long NOW = 1_780_000_100_000_000L;
    private static final long FRESH = 5_000_000L;

    private static final long SKEW = 1_000_000L;

    private static FollowerStatus st(String node, int timeline, long lsn, long ageMicros) {
        return st(node, timeline, lsn, ageMicros, FollowerStatus.AUTO);
    }

    private static FollowerStatus st(String node, int timeline, long lsn, long ageMicros, String failover) {
        return new FollowerStatus(1, node, timeline, io.walship.wal.Lsn.format(lsn), "http://" + node, "", NOW - ageMicros,
                failover);
    }

    private static String elect(FollowerStatus mine, List<FollowerStatus> all, Set<String> passedOver) {
        return AutoFailover.winner(AutoFailover.candidates(all, mine, mine.timeline(), NOW, FRESH, SKEW), passedOver)
                .map(FollowerStatus::nodeId).orElse("none");
    }

    @Test
    void theHighestFlushedLsnWinsAndATieGoesToTheSmallestNodeId() {
        FollowerStatus f1 = st("f1", 2, 100, 0);
        assertEquals("f2", elect(f1, List.of(f1, st("f2", 2, 101, 0), st("f3", 2, 99, 0)), Set.of()));
        assertEquals("f1", elect(f1, List.of(st("f2", 2, 100, 0), st("f3", 2, 100, 0)), Set.of()));
        FollowerStatus f3 = st("f3", 2, 100, 0);
        assertEquals("f2", elect(f3, List.of(st("f2", 2, 100, 0), st("f10", 2, 99, 0)), Set.of()),
                "every follower computes the same winner from the same objects");
    }

    @Test
    void staleObjectsOtherTimelinesAndPassedOverWinnersDoNotTakePart() {
        FollowerStatus f1 = st("f1", 2, 100, 0);
        assertEquals("f1", elect(f1, List.of(st("f2", 2, 500, FRESH + 1)), Set.of()), "a stale object is a gone follower");
        assertEquals("f1", elect(f1, List.of(st("f2", 1, 500, 0), st("f3", 3, 500, 0)), Set.of()),
                "only this node's timeline");
        assertEquals("f3", elect(f1, List.of(st("f2", 2, 500, 0), st("f3", 2, 300, 0)), Set.of("f2")));
        assertEquals("f1", elect(f1, List.of(st("f1", 2, 999, 0)), Set.of()), "this node counts as it published itself");
        List<FollowerStatus> c = AutoFailover.candidates(List.of(st("f2", 2, 1, FRESH)), f1, 2, NOW, FRESH, SKEW);
        assertEquals(2, c.size(), "written exactly at the bound is still fresh");
    }

    private static LeaseRecord lease(int timeline, long expiresAtMicros, boolean released) {
        return new LeaseRecord(LeaseRecord.FORMAT_VERSION, "leader", timeline, "http://leader", "leader:7071", 3,
                expiresAtMicros - 10_000_000L, expiresAtMicros - 10_000_000L, expiresAtMicros, released);
    }

    /**
     * With no lease object at all the leader runs with --no-lease and cannot be fenced: a partition
     * that silences it for the followers must not promote one of them while it still takes writes.
     * A released lease (a clean stop) or one expired past the skew margin may be replaced.
     */
    @Test
    void noElectionWithoutALeaseObjectButAReleasedOrLapsedLeaseIsTakeable() {
        long margin = 1_000_000L;
        assertEquals(AutoFailover.LeaseVerdict.NONE, AutoFailover.verdict(Optional.empty(), 2, NOW, margin));
        assertEquals(AutoFailover.LeaseVerdict.TAKEABLE,
                AutoFailover.verdict(Optional.of(lease(2, NOW + 5_000_000L, true)), 2, NOW, margin), "released");
        assertEquals(AutoFailover.LeaseVerdict.TAKEABLE,
                AutoFailover.verdict(Optional.of(lease(2, NOW - margin - 1, false)), 2, NOW, margin), "lapsed");
        assertEquals(AutoFailover.LeaseVerdict.VALID,
                AutoFailover.verdict(Optional.of(lease(2, NOW - margin, false)), 2, NOW, margin), "within the margin");
        assertEquals(AutoFailover.LeaseVerdict.NEWER_TIMELINE,
                AutoFailover.verdict(Optional.of(lease(3, NOW - 60_000_000L, false)), 2, NOW, margin));
    }

    @Test
    void manualFollowersAndObjectsFromTheFutureAreNoCandidatesButEveryObjectOnTheTimelineIsAPeer() {
        FollowerStatus f1 = st("f1", 2, 100, 0);
        FollowerStatus manual = st("f2", 2, 500, 0, FollowerStatus.MANUAL);
        FollowerStatus stale = st("f3", 2, 400, FRESH + 1);
        FollowerStatus future = st("f4", 2, 300, -SKEW - 1);
        FollowerStatus other = st("f5", 3, 900, 0);
        List<FollowerStatus> all = List.of(f1, manual, stale, future, other);
        assertEquals("f1", elect(f1, all, Set.of()), "manual, stale, future and other-timeline objects do not win");
        assertEquals("f4", elect(f1, List.of(st("f4", 2, 300, -SKEW)), Set.of()), "within the skew margin it counts");
        assertEquals(List.of("http://f2", "http://f3", "http://f4"), AutoFailover.peers(all, "f1", 2),
                "every other follower on this timeline is asked for WAL, candidate or not, fresh or not");
        assertEquals(List.of(), AutoFailover.peers(List.of(f1, new FollowerStatus(1, "f6", 2, "0000000000000001", "", "", NOW, null)), "f1", 2));
    }

    @Test
    void theTimingsFollowTheFlags() {
        AutoFailover.Options o = AutoFailover.Options.of(Duration.ofSeconds(5), Duration.ofSeconds(1),
                Duration.ofSeconds(10), Duration.ofSeconds(1));
        assertEquals(Duration.ofMillis(2500), o.refresh(), "unchanged status every max(interval, heartbeat/2)");
        assertEquals(Duration.ofMillis(12500), o.freshness());
        assertEquals(Duration.ofSeconds(12 + 5 + 1 + 10), o.winnerWait(), "TTL + 2 margins + heartbeat + interval + 10 s");
        assertTrue(o.tick().compareTo(Duration.ofMillis(250)) <= 0);
        AutoFailover.Options fast = AutoFailover.Options.of(Duration.ofMillis(2500), Duration.ofMillis(200),
                Duration.ofSeconds(2), Duration.ofMillis(200));
        assertEquals(Duration.ofMillis(1250), fast.refresh());
        assertEquals(Duration.ofMillis(50), fast.tick());
    }
}
