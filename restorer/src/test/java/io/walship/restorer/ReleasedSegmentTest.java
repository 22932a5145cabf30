package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.wal.ChangeIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (2) of restore-fast: what a {@link SegmentPrefetcher.Decoded} answers once its body was
 * released, and without a change index. On main its commit times were a copy made by the check
 * (valid without an index and after the release); on the branch they are read back through the
 * index from the body, which the next fetch reuses.
 */
class ReleasedSegmentTest {
    @TempDir
    Path tmp;

    /** Two segments of the same layout (so that the second is read into the first's body), LSN 100.. and 150... */
    private List<RestorePlan.Step> twoSegments(ObjectStore archive, long seed) throws Exception {
        System.out.println("ReleasedSegmentTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        List<RestorePlan.Step> steps = new ArrayList<>();
        long first = 100;
        for (int s = 0; s < 2; s++) {
            steps.add(TestSegments.write(archive, Codec.ZSTD, first, 50,
                    lsn -> ChangeIndexBudgetTest.entryOfTinyDeltas(lsn, 10, r)));
            first += 50;
        }
        return steps;
    }

    /** A segment fetched without an index (catch-up, verify) still answers its entries' commit times, as on main. */
    @Test
    void aSegmentFetchedWithoutAnIndexAnswersItsCommitTimes() throws Exception {
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        List<RestorePlan.Step> steps = twoSegments(archive, 31);
        SegmentPrefetcher.Decoded d = SegmentPrefetcher.fetch(archive, steps.get(0).key(), steps.get(0).segment().size());
        long got;
        try {
            got = d.commitTimeMicros(0);
        } catch (NullPointerException e) {
            throw new AssertionError("commitTimeMicros(0) of a segment fetched without a change index threw " + e, e);
        }
        assertEquals(100_000_000L, got);
    }

    /**
     * Once the consumer asked for the next segment, the previous one's commit times must still be
     * its own (main kept a copy) or be refused like {@link SegmentPrefetcher.Decoded#changes} — never
     * read silently from the next segment's bytes in the reused body.
     */
    @Test
    void aReleasedSegmentNeverAnswersAnotherSegmentsCommitTime() throws Exception {
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive2"));
        List<RestorePlan.Step> steps = twoSegments(archive, 32);
        // a one-byte budget: the second segment is fetched only once the first is released, into its body
        try (SegmentPrefetcher p = new SegmentPrefetcher(archive, steps, 1, 1, true)) {
            SegmentPrefetcher.Decoded a = p.next();
            assertEquals(100_000_000L, a.commitTimeMicros(0));
            SegmentPrefetcher.Decoded b = p.next();
            assertEquals(150_000_000L, b.commitTimeMicros(0));
            long t;
            try {
                t = a.commitTimeMicros(0);
            } catch (IllegalStateException refused) {
                return; // refused once released: as good as a copy
            }
            assertEquals(100_000_000L, t, "segment " + steps.get(0).key() + " entry 0 (LSN 100) answers commit time " + t
                    + " once released: it was read from the next segment's bytes in the reused body");
        }
    }

    /**
     * A released segment gives its bytes back to the budget; its change index (up to 4 bytes per 9
     * of body) must then be unreachable through it, else a consumer that still holds the segment
     * (the replay's loop variable, while it waits in {@code next()} for the following segment)
     * keeps memory the budget already granted to a later fetch.
     */
    @Test
    void aReleasedSegmentNoLongerHoldsItsIndex() throws Exception {
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive3"));
        List<RestorePlan.Step> steps = twoSegments(archive, 33);
        try (SegmentPrefetcher p = new SegmentPrefetcher(archive, steps, 1, 1, true)) {
            SegmentPrefetcher.Decoded a = p.next();
            WeakReference<ChangeIndex> index = new WeakReference<>(a.changes());
            p.next();
            // bounded by a count of full collections, not by time
            for (int i = 0; i < 20 && index.get() != null; i++) {
                System.gc();
            }
            ChangeIndex still = index.get();
            Reference.reachabilityFence(a);
            if (still != null) {
                fail("segment " + steps.get(0).key() + " was released (its bytes back in the budget), but the "
                        + still.changeCount() + "-change index it holds is still reachable through it");
            }
            assertNull(still);
        }
    }
}
