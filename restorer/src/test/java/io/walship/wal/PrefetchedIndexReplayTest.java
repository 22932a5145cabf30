package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import io.walship.archive.Codec;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.restorer.RestorePlan;
import io.walship.restorer.SegmentPrefetcher;
import io.walship.restorer.TestSegments;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review (2) of restore-fast, end to end through the prefetcher: segments of random sizes (so that
 * a later, smaller body is read into an earlier, larger array whose tail still holds old bytes),
 * fetched with budgets that make every fetch reuse a released body, must replay from their change
 * index exactly what walking each entry hands out, entry by entry, with its own LSN and commit time.
 * A segment whose index does not fit beside the others in the budget is handed out without one
 * (applied as on main, from its entries): that happens only in the middling budget, where fetches
 * run side by side; one that holds the whole budget (budget 1), or a budget that holds them all,
 * indexes every segment.
 * (In package io.walship.wal to reach {@link ChangeIndex#replay}; changes and their collector are
 * {@link ChangeIndexTest}'s.)
 */
class PrefetchedIndexReplayTest {
    @TempDir
    Path tmp;

    @Test
    void everyPrefetchedSegmentReplaysWhatItsEntriesHold() throws Exception {
        long seed = Long.getLong("walship.test.seed", 20261204L);
        System.out.println("PrefetchedIndexReplayTest seed " + seed);
        SplittableRandom r = new SplittableRandom(seed);
        ObjectStore archive = ObjectStores.open("file://" + tmp.resolve("archive"));
        List<RestorePlan.Step> steps = new ArrayList<>();
        long lsn = 1;
        long[] compressed = {0};
        for (int s = 0; s < 14; s++) {
            // sizes that go up and down, so that bodies are read into larger arrays
            int entries = s % 3 == 0 ? 60 + r.nextInt(40) : 1 + r.nextInt(15);
            steps.add(TestSegments.write(archive, s % 2 == 0 ? Codec.ZSTD : Codec.NONE, lsn, entries, at -> {
                List<PageChange> changes = new ArrayList<>();
                for (int c = r.nextInt(6); c > 0; c--) {
                    changes.add(ChangeIndexTest.change(r));
                }
                long horizon = at > 1 && r.nextInt(4) == 0 ? 1 + r.nextInt((int) Math.min(at - 1, 1000)) : Lsn.NONE;
                WalCompression codec = WalCompression.values()[r.nextInt(WalCompression.values().length)];
                byte[] e = EntryCodec.encode(at, 1, 1_000_000L * at + r.nextInt(1000), horizon, changes, codec);
                if ((e[5] & 0xFF) == EntryCodec.COMPRESSED_FORMAT_VERSION) {
                    compressed[0]++;
                }
                return e;
            }));
            lsn += entries;
        }
        assertTrue(compressed[0] > 20, "only " + compressed[0] + " entries with compressed images (seed " + seed + ")");
        for (long budget : new long[] {1, 200_000, 64L << 20}) {
            for (int parallel : new int[] {1, 3}) {
                long expect = 1;
                int indexed = 0;
                try (SegmentPrefetcher p = new SegmentPrefetcher(archive, steps, parallel, budget, true)) {
                    for (RestorePlan.Step step : steps) {
                        SegmentPrefetcher.Decoded d = p.next();
                        if (!d.indexed()) {
                            assertEquals(200_000, budget, step.key() + " was not indexed (parallel " + parallel + ")");
                            for (int i = 0; i < d.count(); i++) {
                                WalEntry e = EntryCodec.walk(d.body(), d.offset(i), d.length(i), true, EntryCodec.NO_CHANGES);
                                assertEquals(expect, e.lsn(), step.key());
                                assertEquals(e.commitTimeMicros(), d.commitTimeMicros(i), step.key());
                                expect++;
                            }
                            continue;
                        }
                        indexed++;
                        ChangeIndex index = d.changes();
                        assertEquals(d.count(), index.entries());
                        for (int i = 0; i < d.count(); i++) {
                            String where = step.key() + " entry " + i + " (budget " + budget + ", parallel " + parallel
                                    + ", seed " + seed + ")";
                            List<ChangeIndexTest.Seen> walked = new ArrayList<>();
                            WalEntry e = EntryCodec.walk(d.body(), d.offset(i), d.length(i), true, ChangeIndexTest.collector(walked));
                            List<ChangeIndexTest.Seen> replayed = new ArrayList<>();
                            index.replay(i, ChangeIndexTest.collector(replayed));
                            assertEquals(expect, e.lsn(), where);
                            assertEquals(expect, index.lsn(i), where);
                            assertEquals(expect, d.lsn(i), where);
                            assertEquals(e.commitTimeMicros(), d.commitTimeMicros(i), where);
                            assertEquals(e.timeline(), index.timeline(i), where);
                            assertEquals(d.length(i), index.length(i), where);
                            assertEquals(walked, replayed, where);
                            expect++;
                        }
                    }
                }
                assertEquals(lsn, expect);
                System.out.println("budget " + budget + ", parallel " + parallel + ": " + indexed + " of " + steps.size()
                        + " segments indexed");
            }
        }
    }
}
