package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints racing evictions in a store larger than its page pool (issue 9, defects 1 and 2).
 */
class CheckpointEvictionTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String key(int i) {
        return String.format("k%05d", i);
    }

    /**
     * Defect 2, deterministic: a checkpoint has chosen its dirty pages but not written them; the
     * page a commit just changed leaves the pool meanwhile, and the next commit on that page must
     * still see the change. Before the fix the checkpoint counted the page clean when it copied
     * it, eviction dropped it, and the next commit re-read (and logged) the old page: the
     * acknowledged value was gone from the store and from the WAL.
     */
    @Test
    void aCheckpointRacingAnEvictionLosesNoCommit() throws Exception {
        Path dir = tmp.resolve("d");
        StoreOptions opts = StoreOptions.defaults().withPoolPages(64).withCheckpoint(1L << 40, Duration.ofDays(1));
        ExecutorService exec = Executors.newSingleThreadExecutor();
        byte[] fresh = b("the acknowledged value");
        String k = key(500);
        try {
            Store store = Store.open(dir, opts);
            for (int i = 0; i < 6_000; i += 100) { // sequential loads pack leaves: 6,000 to pass 3x the pool
                WriteBatch batch = new WriteBatch();
                for (int j = i; j < i + 100; j++) {
                    batch.put(b(key(j)), new byte[200]);
                }
                store.write(batch, Durability.ASYNC);
            }
            store.checkpoint();
            assertTrue(store.pageCountForTesting() > 3 * 64, "the store must be larger than its pool");
            store.put(b(k), fresh);

            CountDownLatch chosen = new CountDownLatch(1);
            CountDownLatch proceed = new CountDownLatch(1);
            store.checkpointerForTesting().hooksForTesting(new Checkpointer.Hooks() {
                @Override
                public void afterDirtySetChosen() {
                    chosen.countDown();
                    try {
                        assertTrue(proceed.await(60, TimeUnit.SECONDS));
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
            Future<Long> checkpoint = exec.submit(store::checkpoint);
            assertTrue(chosen.await(30, TimeUnit.SECONDS), "checkpoint did not start");
            // push the changed leaf out of the pool: read everything, then commit elsewhere
            for (int i = 0; i < 3_000; i++) {
                store.get(b(key(i)));
            }
            store.put(b(key(2_999)), b("far away"));
            // commits on the same leaf as k: one of the neighbours shares it
            store.put(b(key(499)), b("neighbour"));
            store.put(b(key(501)), b("neighbour"));
            proceed.countDown();
            checkpoint.get(60, TimeUnit.SECONDS);
            store.checkpointerForTesting().hooksForTesting(new Checkpointer.Hooks() {
            });

            assertArrayEquals(fresh, store.get(b(k)), "acknowledged commit lost from the store");
            long last = store.lastLsn();
            store.abandonForTesting();
            try (Store reopened = Store.open(dir, opts)) {
                assertEquals(last, reopened.lastLsn());
                assertArrayEquals(fresh, reopened.get(b(k)), "acknowledged commit lost after redo");
            }
            assertEquals("the acknowledged value",
                    new String(new BTree(PageImage.replayWal(dir)).get(b(k)), StandardCharsets.UTF_8),
                    "acknowledged commit lost from the WAL");
        } finally {
            exec.shutdownNow();
        }
    }

    /**
     * Defect 1, the reproduction from the issue: four writers, 100,000 keys of 200 bytes (about
     * 7,000 pages) through a pool of 2,048 pages with a checkpoint every 256 KiB of WAL, so
     * evictions of dirty pages run while checkpoints do. Before the fix the writer died with
     * "dirty eviction during a checkpoint". Every value must read back, before and after a
     * reopen.
     */
    @Test
    void fourWritersThroughASmallPoolWithFrequentCheckpoints() throws Exception {
        Path dir = tmp.resolve("d");
        StoreOptions opts = StoreOptions.defaults().withPoolPages(2_048)
                .withCheckpoint(256 << 10, Duration.ofMillis(400));
        int threads = 4;
        int keys = 100_000;
        // keys in random order, so that dirty pages spread over the whole tree
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < keys; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, new java.util.Random(9));
        ExecutorService exec = Executors.newFixedThreadPool(threads);
        try (Store store = Store.open(dir, opts)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                fs.add(exec.submit(() -> {
                    for (int n = id; n < keys; n += threads) {
                        int i = order.get(n);
                        store.put(b(key(i)), value(i), (n & 7) == 0 ? Durability.DURABLE : Durability.ASYNC);
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get(10, TimeUnit.MINUTES);
            }
            assertTrue(store.stats().checkpoints() >= 5, "checkpoints ran: " + store.stats().checkpoints());
            assertTrue(store.pageCountForTesting() > 3 * 2_048, "pages " + store.pageCountForTesting());
            for (int i = 0; i < keys; i++) {
                assertArrayEquals(value(i), store.get(b(key(i))), key(i));
            }
        } finally {
            exec.shutdownNow();
        }
        try (Store store = Store.open(dir, opts)) {
            for (int i = 0; i < keys; i++) {
                assertArrayEquals(value(i), store.get(b(key(i))), key(i));
            }
        }
    }

    private static byte[] value(int i) {
        byte[] v = new byte[200];
        Arrays.fill(v, (byte) ('a' + i % 26));
        PageFormat.putInt(v, 0, i);
        return v;
    }
}
