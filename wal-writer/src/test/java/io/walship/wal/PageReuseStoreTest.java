package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Merges, refills and the free list in a real store: every page change they make must travel in
 * the WAL, so crash recovery, a replay of the WAL from LSN 1 and a snapshot plus the entries after
 * it all rebuild the same tree, free list included.
 */
class PageReuseStoreTest {
    @TempDir
    Path tmp;

    private static byte[] key(int i) {
        return String.format("key%07d", i).getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] value(Random rnd, int max) {
        byte[] v = new byte[rnd.nextInt(max + 1)];
        rnd.nextBytes(v);
        return v;
    }

    /** Applies random puts and deletes (single and batched) to the store and the model. */
    private static void churn(Store store, TreeMap<Integer, byte[]> model, Random rnd, int ops, int keySpace,
                              int putShare) {
        for (int i = 0; i < ops; i++) {
            if (rnd.nextInt(20) == 0) {
                WriteBatch b = new WriteBatch();
                Map<Integer, byte[]> staged = new TreeMap<>();
                for (int j = 0; j < 1 + rnd.nextInt(8); j++) {
                    int k = rnd.nextInt(keySpace);
                    if (rnd.nextInt(10) < putShare) {
                        byte[] v = value(rnd, 1000);
                        b.put(key(k), v);
                        staged.put(k, v);
                    } else {
                        b.delete(key(k));
                        staged.put(k, null);
                    }
                }
                store.write(b, Durability.ASYNC);
                staged.forEach((k, v) -> {
                    if (v == null) {
                        model.remove(k);
                    } else {
                        model.put(k, v);
                    }
                });
                continue;
            }
            int k = rnd.nextInt(keySpace);
            if (rnd.nextInt(10) < putShare) {
                byte[] v = value(rnd, 1000);
                store.put(key(k), v, Durability.ASYNC);
                model.put(k, v);
            } else {
                store.delete(key(k), Durability.ASYNC);
                model.remove(k);
            }
        }
        assertTrue(store.awaitDurable(store.lastLsn(), Duration.ofSeconds(60)));
    }

    private static void assertSame(TreeMap<Integer, byte[]> model, Store store, int keySpace, String where) {
        for (int k = 0; k < keySpace; k++) {
            byte[] want = model.get(k);
            if (want == null) {
                assertNull(store.get(key(k)), where + ": key " + k + " should be absent");
            } else {
                assertArrayEquals(want, store.get(key(k)), where + ": key " + k);
            }
        }
        PageSpace s = store.checkTreeForTesting();
        assertEquals(model.size(), s.pairs(), where);
    }

    @Test
    void crashRecoveryRebuildsMergedNodesAndTheFreeList() {
        long seed = Long.getLong("walship.pagefill.seed", new SecureRandom().nextLong());
        System.out.println("PageReuseStoreTest: seed " + seed + " (repeat with -Dwalship.pagefill.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Path dir = tmp.resolve("d");
        // a small page cache and frequent checkpoints: pages are evicted and written while
        // they are freed and reused, and recovery redoes from checkpoints in the middle of it
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64).withCheckpoint(256 << 10, Duration.ofMillis(50));
        TreeMap<Integer, byte[]> model = new TreeMap<>();
        int keySpace = 4_000;
        int sawFree = 0;
        for (int round = 0; round < 8; round++) {
            int putShare = round % 2 == 0 ? 8 : 1; // grow, then shrink
            Store store = Store.open(dir, opts);
            assertSame(model, store, keySpace, "seed " + seed + " round " + round + " after recovery");
            churn(store, model, rnd, 1_500 + rnd.nextInt(1_500), keySpace, putShare);
            sawFree = Math.max(sawFree, store.checkTreeForTesting().freePages());
            StateDigest digest = store.digest();
            store.abandonForTesting(); // a crash: WAL synced, no final checkpoint
            PageImage image = PageImage.replayWal(dir);
            assertEquals(digest, image.digest(), "seed " + seed + " round " + round + ": replay from LSN 1");
            new BTree(image).check();
        }
        try (Store store = Store.open(dir, opts)) {
            assertSame(model, store, keySpace, "seed " + seed + " at the end");
        }
        assertTrue(sawFree > 0, "the delete-heavy rounds must have freed pages");
    }

    @Test
    void aDeleteHeavyWorkloadStopsGrowingThePageFile() throws Exception {
        Random rnd = new Random(5);
        Path dir = tmp.resolve("d");
        List<Integer> pages = new ArrayList<>();
        int next = 0;
        try (Store store = Store.open(dir)) {
            List<Integer> live = new ArrayList<>();
            for (int cycle = 0; cycle < 6; cycle++) {
                // 3,000 new rows of 1,000 bytes, then 90 % of the live rows deleted at random
                for (int i = 0; i < 3_000; i++) {
                    byte[] v = new byte[1000];
                    rnd.nextBytes(v);
                    store.put(key(next), v, Durability.ASYNC);
                    live.add(next++);
                }
                java.util.Collections.shuffle(live, rnd);
                int keep = live.size() / 10;
                for (int k : live.subList(keep, live.size())) {
                    store.delete(key(k), Durability.ASYNC);
                }
                live = new ArrayList<>(live.subList(0, keep));
                PageSpace s = store.checkTreeForTesting();
                assertEquals(live.size(), s.pairs());
                pages.add(s.pages());
            }
            store.checkpoint();
        }
        // each cycle writes as many rows as the first (plus the 10 % left over): without reuse
        // the file would grow by the first cycle's size every cycle; with it, it stops growing
        for (int c = 1; c < pages.size(); c++) {
            assertTrue(pages.get(c) <= pages.get(0) * 6 / 5, "page counts per cycle: " + pages);
        }
        for (int c = 3; c < pages.size(); c++) {
            assertTrue(pages.get(c) <= pages.get(2), "page counts per cycle: " + pages);
        }
        assertTrue(Files.size(dir.resolve("pages.dat")) <= (long) pages.get(0) * 6 / 5 * PageFormat.PAGE_SIZE,
                "pages.dat is " + Files.size(dir.resolve("pages.dat")) + " bytes; page counts per cycle: " + pages);
    }

    @Test
    void aSnapshotWithAFreeListPlusLaterEntriesEqualsTheLeader() throws Exception {
        Random rnd = new Random(9);
        Path followerDir = tmp.resolve("follower");
        TreeMap<Integer, byte[]> model = new TreeMap<>();
        try (Store leader = Store.open(tmp.resolve("leader"))) {
            churn(leader, model, rnd, 4_000, 3_000, 9);
            churn(leader, model, rnd, 4_000, 3_000, 1);
            PageSpace atSnapshot = leader.checkTreeForTesting();
            assertTrue(atSnapshot.freePages() > 10, "the snapshot must hold a free list: " + atSnapshot);
            SnapshotLoader.Info info;
            try (Snapshot snap = leader.snapshot(); InputStream in = snap.openStream()) {
                info = SnapshotLoader.load(in, followerDir);
            }
            // after the snapshot: pages come off the free list, others go back on it
            churn(leader, model, rnd, 3_000, 3_000, 7);
            churn(leader, model, rnd, 2_000, 3_000, 2);
            List<WalEntry> entries = new ArrayList<>();
            try (WalReader r = leader.walReader()) {
                r.seek(info.lsn() + 1);
                WalEntry e;
                while ((e = r.next()) != null) {
                    entries.add(e);
                }
            }
            try (Store follower = Store.open(followerDir)) {
                assertEquals(atSnapshot, follower.checkTreeForTesting());
                for (WalEntry e : entries) {
                    follower.apply(e, Durability.ASYNC);
                }
                assertEquals(leader.digest(), follower.digest());
                assertEquals(leader.checkTreeForTesting(), follower.checkTreeForTesting());
                for (int p = 0; p < leader.pageCountForTesting(); p++) {
                    assertTrue(Arrays.equals(leader.pageForTesting(p), follower.pageForTesting(p)), "page " + p);
                }
            }
            assertSame(model, leader, 3_000, "leader");
        }
    }
}
