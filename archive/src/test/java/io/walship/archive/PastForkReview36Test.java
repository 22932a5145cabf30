package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review rev36 of "a copy restored to the end of the archive does not lead once its parent's WAL is archived past its
 * fork" (pastfork, a255901e): {@link LeaderLease#wentOnPastFork}. Tests only; each fails on a255901e.
 */
class PastForkReview36Test {
    static final Duration TTL = Duration.ofSeconds(10);
    static final Duration MARGIN = Duration.ofSeconds(1);
    static final LeaseRecord.Holder L = new LeaseRecord.Holder("node-l", "http://127.0.0.1:7070", "127.0.0.1:7071");
    static final LeaseRecord.Holder N = new LeaseRecord.Holder("node-n", "http://127.0.0.1:7090", "127.0.0.1:7091");

    @TempDir
    Path tmp;
    final ManualLeaseClock clock = new ManualLeaseClock(1_780_000_000_000_000L);

    private LeaderLease acquire(ObjectStore s, LeaseRecord.Holder who, int timeline) {
        return LeaderLease.acquire(s, who, timeline, TTL, MARGIN, clock);
    }

    private void claimEnd(ObjectStore s, int timeline, int parent, long fork) {
        s.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                ArchiveLayout.lsnHex(fork), "2026-01-01T00:00:00Z", LeaseRecord.instant(clock.wallMicros()).toString(),
                "restore --promote to the end of the archive", TimelineHistory.OFFLINE, TimelineHistory.FORK_END)
                .toJson()));
    }

    private static void archived(ObjectStore s, int timeline, long first, long last) {
        s.create(new ArchiveLayout.SegmentName(timeline, first, last).key(), new ByteArrayInputStream(new byte[]{1}));
    }

    /**
     * Cost: the check runs before {@code takeable}, so a copy waiting beside a running leader (WAITING, a take every
     * TTL/3, forever while the parent is idle) lists the parent's whole {@code wal/P/} on every tick, although only
     * segments past the fork matter (their keys sort after the fork's). 5,000 archived segments below the fork: 5 LIST
     * pages per tick (100k segments: 100 LISTs every 3.3 s with the default 10 s TTL).
     */
    @Test
    void aWaitingCopyDoesNotListTheParentsWholeWalOnEveryTake() {
        try (ObjectStore inner = new LocalObjectStore(tmp.resolve("a"))) {
            CountingObjectStore a = new CountingObjectStore(inner);
            acquire(a, L, 1); // L runs and renews
            for (int i = 0; i < 5000; i++) {
                archived(inner, 1, i * 16L + 1, i * 16L + 16);
            }
            long fork = 5000 * 16L;
            claimEnd(inner, 2, 1, fork);
            CountingObjectStore.Counts before = a.counts();
            assertThrows(LeaseException.Held.class, () -> acquire(a, N, 2));
            CountingObjectStore.Counts take = a.counts().minus(before);
            // one page for the claims (descendants: timelines/), one for the parent's WAL past the fork
            assertTrue(take.lists() <= 2, "one Held take listed " + take.lists() + " pages: " + take);
        }
    }
}
