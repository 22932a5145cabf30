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
}
