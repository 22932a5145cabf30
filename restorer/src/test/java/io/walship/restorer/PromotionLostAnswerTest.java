package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import io.walship.archive.ArchiveListing;
import io.walship.archive.LostAnswerStore;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A timeline claim whose answer was lost (the retried PUT met its own history record with 412)
 * is the claim, not someone else's: the promotion keeps that timeline instead of moving on and
 * leaving an orphan claim behind. A claim that meets another promotion's record still moves on.
 */
class PromotionLostAnswerTest {
    @TempDir
    Path tmp;

    @Test
    void aLostClaimAnswerKeepsTheTimeline() {
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            LostAnswerStore lossy = new LostAnswerStore(inner, k -> k.startsWith("timelines/"));
            assertEquals(2, Promotion.claim(lossy, 1, 0x33, 0, "restore --promote"));
            assertEquals(Set.of("timelines/00000002.history"), lossy.lost());
            assertEquals(Set.of(2), ArchiveListing.of(inner).histories(), "no orphan claim of timeline 3");

            // someone else's record is still someone else's: the next claim gets timeline 3
            assertEquals(3, Promotion.claim(inner, 1, 0x40, 0, "another promotion"));
            assertEquals(List.of(2, 3), List.copyOf(ArchiveListing.of(inner).histories()));
        }
    }

    /** A live promotion claims exactly the next timeline: a lost answer is still ours, a lost race refuses. */
    @Test
    void aLivePromotionClaimsOnlyTheNextTimelineAndOfTwoRacingClaimsExactlyOneWins() throws Exception {
        try (ObjectStore inner = ObjectStores.open("file://" + tmp.resolve("archive"))) {
            LostAnswerStore lossy = new LostAnswerStore(inner, k -> k.startsWith("timelines/"));
            assertEquals(2, Promotion.claimNext(lossy, 1, 0x33, 0, "live promotion of f1"));
            assertEquals(Set.of("timelines/00000002.history"), lossy.lost());

            Promotion.TimelineTakenException e = org.junit.jupiter.api.Assertions.assertThrows(
                    Promotion.TimelineTakenException.class, () -> Promotion.claimNext(inner, 1, 0x34, 0, "live promotion of f2"));
            assertEquals(2, e.timeline());
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("live promotion of f1")
                    && e.getMessage().lines().count() == 1, e.getMessage());
            assertEquals(Set.of(2), ArchiveListing.of(inner).histories(), "the loser does not move on to timeline 3");

            // many racing claims of timeline 3, one thread each: exactly one wins
            int n = 8;
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(n);
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            List<java.util.concurrent.Future<Integer>> results = new java.util.ArrayList<>();
            for (int i = 0; i < n; i++) {
                long fork = 0x100 + i;
                results.add(pool.submit(() -> {
                    go.await();
                    try {
                        return Promotion.claimNext(inner, 2, fork, 0, "racer " + fork);
                    } catch (Promotion.TimelineTakenException t) {
                        return -1;
                    }
                }));
            }
            go.countDown();
            int won = 0;
            for (java.util.concurrent.Future<Integer> f : results) {
                won += f.get() == 3 ? 1 : 0;
            }
            pool.shutdown();
            assertEquals(1, won, "exactly one of the racing promotions claims timeline 3");
            assertEquals(Set.of(2, 3), ArchiveListing.of(inner).histories());
        }
    }
}
