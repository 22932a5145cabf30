package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Defect 3 of issue 9: reads of a store larger than its page pool (digest, scan, a base-backup
 * snapshot stream) must keep the pool at its capacity, whether the pages they pass are clean or
 * dirty. Before the fix only commits evicted, so one digest of an idle store loaded every page.
 */
class ReaderEvictionTest {
    private static final int POOL = 128;

    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Writes a store of at least 8x the pool; returns its page count. */
    private static int fill(Store store, int keys) {
        for (int i = 0; i < keys; i += 500) {
            WriteBatch batch = new WriteBatch();
            for (int j = i; j < Math.min(keys, i + 500); j++) {
                batch.put(b(String.format("key%06d", j)), new byte[200]);
            }
            store.write(batch, Durability.ASYNC);
        }
        int pages = store.pageCountForTesting();
        assertTrue(pages >= 8 * POOL, "store of " + pages + " pages is not 8x the pool of " + POOL);
        return pages;
    }

    private static void assertWithinPool(Store store, String when) {
        int size = store.stats().poolPages();
        assertTrue(size <= POOL, when + ": the pool holds " + size + " pages, over its capacity of " + POOL);
    }

    private static StoreOptions options() {
        return StoreOptions.defaults().withPoolPages(POOL).withCheckpoint(1L << 40, Duration.ofDays(1));
    }

    @Test
    void digestScanAndSnapshotOfAnIdleStoreStayWithinThePool() throws Exception {
        Path dir = tmp.resolve("d");
        int keys = 24_000; // 8x the pool now that sequential loads pack leaves
        try (Store store = Store.open(dir, options())) {
            fill(store, keys);
        }
        try (Store store = Store.open(dir, options())) {
            assertEquals(keys, store.digest().pairs());
            assertWithinPool(store, "after a digest");
            readEverything(store, keys);
        }
    }

    @Test
    void readsPassingDirtyPagesStayWithinThePool() throws Exception {
        try (Store store = Store.open(tmp.resolve("d"), options())) {
            int keys = 24_000; // 8x the pool now that sequential loads pack leaves
            fill(store, keys);
            // rewrite a spread of keys so that the pool is full of dirty pages, no checkpoint
            WriteBatch batch = new WriteBatch();
            for (int j = 0; j < keys; j += 50) {
                batch.put(b(String.format("key%06d", j)), b("changed"));
            }
            store.write(batch, Durability.ASYNC);
            assertEquals(keys, store.digest().pairs());
            assertWithinPool(store, "after a digest over dirty pages");
            readEverything(store, keys);
            assertEquals("changed", new String(store.get(b("key000050")), StandardCharsets.UTF_8));
        }
    }

    private static void readEverything(Store store, int keys) throws Exception {
        long[] n = new long[1];
        store.scan(null, null, (k, v) -> {
            if (++n[0] % 200 == 0) {
                assertWithinPool(store, "during a scan");
            }
            return true;
        });
        assertEquals(keys, n[0]);
        assertWithinPool(store, "after a scan");
        try (Snapshot snap = store.snapshot(); InputStream in = snap.openStream()) {
            byte[] buf = new byte[64 << 10];
            long total = 0;
            int r;
            while ((r = in.read(buf)) > 0) {
                total += r;
                assertWithinPool(store, "while streaming a snapshot");
            }
            assertEquals(snap.imageSize(), total);
        }
        for (int i = 0; i < keys; i += 7) {
            store.get(b(String.format("key%06d", i)));
        }
        assertWithinPool(store, "after point reads");
    }
}
