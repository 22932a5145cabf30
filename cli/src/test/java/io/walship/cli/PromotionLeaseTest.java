package io.walship.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.walship.archive.LeaderLease;
import io.walship.archive.LeaseRecord;
import io.walship.archive.LocalObjectStore;
import io.walship.archive.ManualLeaseClock;
import io.walship.restorer.Promotion;
import io.walship.server.ConflictException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A live promotion's wait for the leader lease ({@link PromotionLease}), on a manual clock: a dead
 * leader's lease is waited out and taken; a live leader's (renewed while waiting) or one expiring
 * past the wait is refused at once naming its holder; another promotion that won is refused.
 */
class PromotionLeaseTest {
    private static final Duration TTL = Duration.ofSeconds(10);
    private static final Duration MARGIN = Duration.ofSeconds(1);
    private static final LeaseRecord.Holder OLD = new LeaseRecord.Holder("old-leader", "http://old:7070", "old:7071");
    private static final LeaseRecord.Holder F1 = new LeaseRecord.Holder("f1", "http://f1:7080", "f1:7081");

    @TempDir
    Path tmp;

    private final ManualLeaseClock clock = new ManualLeaseClock(1_700_000_000_000_000L);
    private final List<Duration> slept = new ArrayList<>();
    /** Sleeping advances the manual clock; {@code during} runs at each sleep (the "other" node acting meanwhile). */
    private Runnable during = () -> { };

    private final PromotionLease.Sleeper sleeper = d -> {
        slept.add(d);
        clock.advance(d);
        during.run();
    };

    private LeaderLease take(LocalObjectStore store, LeaseRecord.Holder me, int timeline) {
        return PromotionLease.take(store, me, timeline, TTL, MARGIN, clock, PromotionLease.maxWait(TTL, MARGIN), sleeper);
    }

    @Test
    void aKilledLeadersLeaseIsWaitedOutThenTaken() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease.acquire(store, OLD, 1, TTL, MARGIN, clock); // then the leader dies: never renewed
            clock.advance(Duration.ofSeconds(2));
            LeaderLease mine = take(store, F1, 1);
            assertEquals("f1", mine.record().nodeId());
            assertEquals(2, mine.record().term());
            Duration waited = slept.stream().reduce(Duration.ZERO, Duration::plus);
            // expiry (8 s left) plus the margin, not much more
            assertTrue(waited.compareTo(Duration.ofSeconds(9)) > 0 && waited.compareTo(Duration.ofSeconds(10)) < 0,
                    "waited " + waited);
        }
    }

    @Test
    void aReleasedLeaseIsTakenAtOnce() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease.acquire(store, OLD, 1, TTL, MARGIN, clock).release();
            assertEquals("f1", take(store, F1, 1).record().nodeId());
            assertEquals(List.of(), slept);
        }
    }

    @Test
    void aLiveLeaderRenewingItsLeaseIsRefusedNamingIt() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease old = LeaderLease.acquire(store, OLD, 1, TTL, MARGIN, clock);
            during = old::renew; // the leader is alive: it renews while the promotion waits
            ConflictException e = assertThrows(ConflictException.class, () -> take(store, F1, 1));
            assertTrue(e.getMessage().contains("held by old-leader") && e.getMessage().contains("renewed while"),
                    e.getMessage());
            assertEquals(1, e.getMessage().lines().count());
            Duration waited = slept.stream().reduce(Duration.ZERO, Duration::plus);
            assertTrue(waited.compareTo(TTL) < 0, "refused only after " + waited);
            assertEquals("old-leader", LeaderLease.current(store).orElseThrow().nodeId(), "nothing taken");
        }
    }

    @Test
    void aLeaseExpiringLaterThanThePromotionWaitsIsRefusedAtOnce() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease.acquire(store, OLD, 1, TTL.multipliedBy(6), MARGIN, clock); // a leader with --lease-ttl 60s
            ConflictException e = assertThrows(ConflictException.class, () -> take(store, F1, 1));
            assertTrue(e.getMessage().contains("held by old-leader") && e.getMessage().contains("later than this"
                    + " promotion waits"), e.getMessage());
            assertEquals(List.of(), slept, "refused without waiting");
        }
    }

    @Test
    void aPromotionAfterAnotherOneWonIsRefused() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease.acquire(store, OLD, 1, TTL, MARGIN, clock);
            clock.advance(TTL.plus(MARGIN).plusSeconds(1));
            Promotion.claimNext(store, 1, 100, 0, "the other promotion");
            ConflictException e = assertThrows(ConflictException.class, () -> take(store, F1, 1));
            assertTrue(e.getMessage().contains("timeline 2"), e.getMessage());
        }
    }

    @Test
    void aLeaseTakenByAnotherPromotionWhileWaitingIsRefusedNamingIt() {
        try (LocalObjectStore store = new LocalObjectStore(tmp.resolve("a"))) {
            LeaderLease.acquire(store, OLD, 1, TTL, MARGIN, clock);
            LeaseRecord.Holder f2 = new LeaseRecord.Holder("f2", "http://f2:7080", "f2:7081");
            during = () -> {
                if (LeaderLease.current(store).orElseThrow().takeable(clock.wallMicros(), MARGIN.toNanos() / 1000)) {
                    LeaderLease.acquire(store, f2, 1, TTL, MARGIN, clock); // f2's promotion got there first
                }
            };
            ConflictException e = assertThrows(ConflictException.class, () -> take(store, F1, 1));
            assertTrue(e.getMessage().contains("taken by f2"), e.getMessage());
        }
    }
}
