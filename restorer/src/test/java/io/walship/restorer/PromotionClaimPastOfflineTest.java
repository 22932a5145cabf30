package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.walship.archive.ArchiveLayout;
import io.walship.archive.ArchiveListing;
import io.walship.archive.LostAnswerStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.TimelineHistory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * review30: a live promotion ({@link Promotion#claimNext}) passes over timelines that an offline promotion claimed
 * (an inspection or drill copy made with {@code restore --promote}, {@code walship promote --data}) and those forked
 * from another timeline, and refuses only another live promotion's claim of a child of its own timeline. Offline
 * claims say so in the record's {@code promotion} field; older records without it by their reason.
 */
class PromotionClaimPastOfflineTest {
    @TempDir
    Path tmp;

    private ObjectStore archive() {
        return ObjectStores.open("file://" + tmp.resolve("archive"));
    }

    /** A record as a walship before the {@code promotion} field wrote it. */
    private static void oldRecord(ObjectStore a, int timeline, int parent, String reason) {
        a.create(ArchiveLayout.historyKey(timeline), new ByteArrayInputStream(new TimelineHistory(1, timeline, parent,
                "0000000000000030", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", reason).toJson()));
    }

    @Test
    void offlineClaimsArePassedOverAndSaySo() {
        try (ObjectStore a = archive()) {
            assertEquals(2, Promotion.claim(a, 1, 0x30, 0, "restore --promote to the end of the archive"));
            assertEquals(TimelineHistory.OFFLINE, TimelineHistory.readOne(a, 2).promotion());
            assertEquals(3, Promotion.claimNext(a, 1, 0x33, 0, "live promotion of f1"));
            TimelineHistory live = TimelineHistory.readOne(a, 3);
            assertEquals(TimelineHistory.LIVE, live.promotion());
            assertEquals(1, live.parent());
            assertEquals(Map.of(1, 0x33L), Map.of(live.parent(), live.forkLsnValue()));
        }
    }

    @Test
    void afterTwoCopiesTheLivePromotionClaimsTheThirdTimeline() {
        try (ObjectStore a = archive()) {
            assertEquals(2, Promotion.claim(a, 1, 0x30, 0, "restore --promote to LSN 0000000000000030"));
            assertEquals(3, Promotion.claim(a, 1, 0x31, 0, "restore --promote to the end of the archive"));
            assertEquals(4, Promotion.claimNext(a, 1, 0x33, 0, "live promotion of f1"));
            // and the copies' own claims go on past everything
            assertEquals(5, Promotion.claim(a, 4, 0x40, 0, "restore --promote to the end of the archive"));
            assertEquals(List.of(2, 3, 4, 5), List.copyOf(ArchiveListing.of(a).histories()));
        }
    }

    @Test
    void olderRecordsAreJudgedByTheirReason() {
        try (ObjectStore a = archive()) {
            oldRecord(a, 2, 1, "restore --promote to the end of the archive");
            oldRecord(a, 3, 1, "promote at LSN 0000000000000030");
            assertEquals(4, Promotion.claimNext(a, 1, 0x33, 0, "live promotion of f1"));
        }
        try (ObjectStore a = ObjectStores.open("file://" + tmp.resolve("archive2"))) {
            oldRecord(a, 2, 1, "live promotion of f0 at LSN 0000000000000030");
            Promotion.TimelineTakenException e = assertThrows(Promotion.TimelineTakenException.class,
                    () -> Promotion.claimNext(a, 1, 0x33, 0, "live promotion of f1"));
            assertEquals(2, e.timeline());
            assertTrue(e.getMessage().contains("live promotion of f0") && e.getMessage().contains("stays a follower"),
                    e.getMessage());
            assertEquals(Set.of(2), ArchiveListing.of(a).histories(), "nothing claimed past it");
        }
    }

    @Test
    void anotherLivePromotionOfTheSameTimelineRefusesEvenPastACopy() {
        try (ObjectStore a = archive()) {
            assertEquals(2, Promotion.claim(a, 1, 0x30, 0, "restore --promote to the end of the archive"));
            assertEquals(3, Promotion.claimNext(a, 1, 0x33, 0, "live promotion of f1"));
            Promotion.TimelineTakenException e = assertThrows(Promotion.TimelineTakenException.class,
                    () -> Promotion.claimNext(a, 1, 0x34, 0, "live promotion of f2"));
            assertEquals(3, e.timeline());
            assertTrue(e.getMessage().contains("live promotion of f1"), e.getMessage());
            assertEquals(Set.of(2, 3), ArchiveListing.of(a).histories(), "the loser does not move on to timeline 4");
        }
    }

    @Test
    void aLiveClaimForkedFromAnotherTimelineIsPassedOver() {
        try (ObjectStore a = archive()) {
            oldRecord(a, 2, 1, "restore --promote to the end of the archive");
            // a follower of timeline 2 promoted live: timeline 3 is a live claim whose parent is 2, not 1
            assertEquals(3, Promotion.claimNext(a, 2, 0x40, 0, "live promotion of f1"));
            assertEquals(4, Promotion.claimNext(a, 1, 0x41, 0, "live promotion of a stale follower"),
                    "the claim fence is per parent; the lease fences a stale follower (LeaderLease)");
        }
    }

    @Test
    void aLostAnswerPastACopyIsStillOurClaim() {
        try (ObjectStore inner = archive()) {
            assertEquals(2, Promotion.claim(inner, 1, 0x30, 0, "restore --promote to the end of the archive"));
            LostAnswerStore lossy = new LostAnswerStore(inner, k -> k.startsWith("timelines/"));
            assertEquals(3, Promotion.claimNext(lossy, 1, 0x33, 0, "live promotion of f1"));
            assertEquals(Set.of("timelines/00000003.history"), lossy.lost());
            assertEquals(Set.of(2, 3), ArchiveListing.of(inner).histories(), "no orphan claim of timeline 4");
        }
    }

    /** Racing live promotions past copies: they walk the same candidates, and exactly one claims. */
    @Test
    void ofRacingLivePromotionsPastCopiesExactlyOneWins() throws Exception {
        try (ObjectStore a = archive()) {
            assertEquals(2, Promotion.claim(a, 1, 0x30, 0, "restore --promote to the end of the archive"));
            int n = 8;
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(n);
            try {
                java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
                List<java.util.concurrent.Future<Integer>> results = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    long fork = 0x100 + i;
                    boolean copyToo = i % 2 == 0;
                    results.add(pool.submit(() -> {
                        go.await();
                        if (copyToo) {
                            Promotion.claim(a, 1, fork, 0, "restore --promote to the end of the archive");
                        }
                        try {
                            return Promotion.claimNext(a, 1, fork, 0, "racer " + fork);
                        } catch (Promotion.TimelineTakenException t) {
                            return -1;
                        }
                    }));
                }
                go.countDown();
                int won = 0;
                for (java.util.concurrent.Future<Integer> f : results) {
                    won += f.get() > 0 ? 1 : 0;
                }
                assertEquals(1, won, "exactly one of the racing live promotions claims a timeline");
                long live = ArchiveListing.of(a).histories().stream().filter(t -> TimelineHistory.readOne(a, t).live())
                        .count();
                assertEquals(1, live, "one live claim in the archive");
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
