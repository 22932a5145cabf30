package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failed WAL sync stops the store (defect 4): the failed group and everything after it is
 * never acknowledged, every later call fails naming the cause, {@link Store#failure()} says so,
 * and reopening recovers every acknowledged commit. Also: one sync per group.
 */
class WalSyncFailureTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void failedSyncStopsTheStoreAndNothingAfterItIsAcknowledged() {
        Path dir = tmp.resolve("d");
        TestSync sync = new TestSync();
        Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(sync));
        for (int i = 0; i < 20; i++) {
            store.put(b("k" + i), b("v" + i));
        }
        long durable = store.durableLsn();
        assertEquals(store.lastLsn(), durable);

        sync.failFromNext(1);
        StoreFailedException e = assertThrows(StoreFailedException.class, () -> store.put(b("lost"), b("x")));
        assertTrue(e.getMessage().contains("injected EIO") && e.getMessage().contains("WAL sync of")
                && e.getMessage().contains("reopen"), e.getMessage());
        assertTrue(store.failure().isPresent(), "the store reports itself failed");
        assertEquals(durable, store.durableLsn(), "the durable LSN does not move past a failed sync");

        sync.heal(); // even once the device works again, the store stays stopped
        StoreFailedException later = assertThrows(StoreFailedException.class, () -> store.put(b("later"), b("y")));
        assertTrue(later.getMessage().contains("injected EIO"), "later calls name the first failure: " + later.getMessage());
        assertThrows(StoreFailedException.class, () -> store.get(b("k1")), "reads of unacknowledged state are refused");
        assertThrows(StoreFailedException.class, () -> store.awaitDurable(store.lastLsn(), java.time.Duration.ofSeconds(1)));
        store.close();

        try (Store reopened = Store.open(dir)) {
            for (int i = 0; i < 20; i++) {
                assertArrayEquals(b("v" + i), reopened.get(b("k" + i)));
            }
            assertTrue(reopened.failure().isEmpty());
            long next = reopened.put(b("after"), b("reopen"));
            assertEquals(reopened.lastLsn(), next);
            assertEquals(reopened.digest(), replay(dir));
        }
    }

    @Test
    void concurrentWritersGetNoAcknowledgementAfterTheFailedGroup() throws Exception {
        Path dir = tmp.resolve("d");
        TestSync sync = new TestSync();
        Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(sync));
        Map<String, String> acked = new ConcurrentHashMap<>();
        AtomicLong maxAcked = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            int id = t;
            Thread th = new Thread(() -> {
                for (int i = 0; ; i++) {
                    String k = "t" + id + "." + i;
                    try {
                        long lsn = store.put(b(k), b("v" + i));
                        acked.put(k, "v" + i);
                        maxAcked.accumulateAndGet(lsn, Math::max);
                    } catch (StoreFailedException e) {
                        return;
                    }
                }
            });
            threads.add(th);
            th.start();
        }
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (acked.size() < 400 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        sync.failFromNext(1);
        for (Thread th : threads) {
            th.join(30_000);
            assertTrue(!th.isAlive(), "a writer is still acknowledged after the failure");
        }
        long durable = store.durableLsn();
        assertTrue(store.failure().isPresent());
        assertTrue(maxAcked.get() <= durable, "acknowledged LSN " + maxAcked.get() + " past the durable LSN " + durable);
        assertTrue(store.lastLsn() > durable, "the failed group was applied in memory but never acknowledged");
        store.close();

        try (Store reopened = Store.open(dir)) {
            for (Map.Entry<String, String> a : acked.entrySet()) {
                assertArrayEquals(b(a.getValue()), reopened.get(b(a.getKey())), "acknowledged " + a.getKey() + " lost");
            }
            assertEquals(reopened.digest(), replay(dir));
        }
    }

    @Test
    void oneSyncPerGroup() throws Exception {
        Path dir = tmp.resolve("d");
        TestSync sync = new TestSync();
        try (Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(sync))) {
            int before = sync.forces.get();
            for (int i = 0; i < 200; i++) {
                store.put(b("k" + i), b("v"));
            }
            // one writer: every commit is its own group, synced once (the file is not new any more)
            assertEquals(200, sync.forces.get() - before);

            before = sync.forces.get();
            long commitsBefore = store.stats().commits();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    for (int i = 0; i < 200; i++) {
                        store.put(b("c" + id + "." + i), b("v"));
                    }
                });
                threads.add(th);
                th.start();
            }
            for (Thread th : threads) {
                th.join();
            }
            long commits = store.stats().commits() - commitsBefore;
            int syncs = sync.forces.get() - before;
            assertEquals(1600, commits);
            assertTrue(syncs < commits, "concurrent commits share syncs: " + syncs + " syncs for " + commits + " commits");
        }
    }

    private static StateDigest replay(Path dir) {
        return PageImage.replayWal(dir).digest();
    }
}
