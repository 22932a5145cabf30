package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Only durable WAL leaves the store (the engine half of defect 5): WAL readers, in the writer's
 * process and in another, stop at the durable LSN; waiters and listeners learn of each sync; a
 * killed writer's unsynced tail stays invisible until the next open makes it durable.
 */
class DurableWalTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void await(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.onSpinWait();
        }
    }

    private static long lastReadable(WalReader r) {
        long last = -1;
        WalEntry e;
        while ((e = r.next()) != null) {
            last = e.lsn();
        }
        return last;
    }

    @Test
    void readersStopAtTheDurableLsnAndWaitersAndListenersLearnOfEachSync() {
        Path dir = tmp.resolve("d");
        TestSync sync = new TestSync();
        try (Store store = Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withSync(sync))) {
            for (int i = 0; i < 5; i++) {
                store.put(b("k" + i), b("v"));
            }
            long durable = store.durableLsn();
            List<Long> heard = new CopyOnWriteArrayList<>();
            Store.Registration reg = store.onDurable(heard::add);

            sync.close(); // the disk is slow: nothing gets synced for now
            try {
                for (int i = 0; i < 3; i++) {
                    store.put(b("a" + i), b("v"), Durability.ASYNC);
                }
                long last = store.lastLsn();
                assertEquals(durable + 3, last);
                assertEquals(durable, store.durableLsn());
                try (WalReader own = store.walReader(); WalReader other = WalReader.open(dir)) {
                    own.seek(1);
                    other.seek(1);
                    assertEquals(durable, lastReadable(own), "the writer's own reader stops at the durable LSN");
                    assertEquals(durable, lastReadable(other), "a reader in another process stops at the durable point");
                    assertTrue(own.atTornTail() && other.atTornTail(), "the next entry is there, not yet durable");
                    assertFalse(store.awaitDurable(last, Duration.ofMillis(50)));
                    assertTrue(heard.stream().allMatch(l -> l <= durable));

                    sync.open();
                    assertTrue(store.awaitDurable(last, Duration.ofSeconds(10)));
                    WalEntry e = own.poll(Duration.ofSeconds(10));
                    assertNotNull(e);
                    assertEquals(durable + 1, e.lsn());
                    assertEquals(last, lastReadable(own));
                    await(() -> other.durableLsn() >= last, "the published durable point");
                    assertEquals(last, lastReadable(other));
                    await(() -> heard.contains(last), "the listener");
                }
            } finally {
                sync.openIfClosed();
            }
            reg.close();
            int before = heard.size();
            store.put(b("after"), b("v"));
            assertEquals(before, heard.size(), "a closed registration hears nothing more");
        }
    }

    @Test
    void aSlowListenerNeverHoldsUpCommitsAndAFailingOneNeverStopsTheOthers() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = Store.open(dir)) {
            CountDownLatch release = new CountDownLatch(1);
            AtomicLong other = new AtomicLong();
            store.onDurable(lsn -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            store.onDurable(lsn -> {
                throw new IllegalStateException("a broken sender");
            });
            store.onDurable(other::set);
            long last = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                long l = 0;
                for (int i = 0; i < 100; i++) {
                    l = store.put(b("k" + i), b("v"));
                }
                return l;
            }, "durable commits went on while a listener was stuck");
            release.countDown();
            await(() -> other.get() == last, "the last listener to hear the newest durable LSN");
        }
    }

    @Test
    void aWakerHearsEachSyncOnTheSyncingThreadBeforeItsCommittersReturn() {
        try (Store store = Store.open(tmp.resolve("d"))) {
            AtomicLong heard = new AtomicLong(-1);
            List<String> threads = new CopyOnWriteArrayList<>();
            Store.Registration reg = store.onDurableWake(lsn -> {
                heard.accumulateAndGet(lsn, Math::max);
                threads.add(Thread.currentThread().getName());
            });
            store.onDurableWake(lsn -> {
                throw new IllegalStateException("a broken waker");
            });
            for (int i = 0; i < 20; i++) {
                long lsn = store.put(b("k" + i), b("v"));
                // called before the sync's committers are woken, not later by another thread
                assertTrue(heard.get() >= lsn, "the waker heard LSN " + lsn + " before put returned: " + heard.get());
            }
            // on the thread that synced: the sync thread, or this lone committer leading its own sync
            assertTrue(threads.stream().allMatch(t -> t.equals("walship-syncer") || t.equals(Thread.currentThread().getName())),
                    "wakers run on the syncing thread: " + threads);
            reg.close();
            long before = heard.get();
            store.put(b("after"), b("v"));
            assertEquals(before, heard.get(), "a closed registration hears nothing more");
        }
    }

    @Test
    void aKilledWritersUnsyncedTailWaitsForTheNextOpen() {
        Path dir = tmp.resolve("d");
        long last;
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 10; i++) {
                store.put(b("k" + i), b("v"));
            }
            last = store.lastLsn();
        }
        // a writer killed after appending three entries it never synced
        WalSurgery.appendRaw(dir, WalSurgery.continuation(dir, tmp.resolve("copy"), 3, "unsynced"));
        try (WalReader r = WalReader.open(dir)) {
            r.seek(1);
            assertEquals(last, lastReadable(r), "no writer runs: the tail is not known durable");
            assertTrue(r.atTornTail());

            try (Store store = Store.open(dir)) {
                assertEquals(last + 3, store.lastLsn(), "recovery keeps the intact entries");
                assertEquals(last + 3, store.durableLsn(), "and makes them durable before taking writes");
                assertEquals(last + 3, WalSurgery.durablePoint(dir));
                await(() -> r.durableLsn() >= last + 3, "the reader to see the new durable point");
                assertEquals(last + 3, lastReadable(r), "the running reader now reads the recovered tail");
            }
        }
        try (WalReader r = WalReader.open(dir)) {
            r.seek(last + 1);
            assertEquals(last + 3, lastReadable(r));
            assertNull(r.next());
        }
    }
}
