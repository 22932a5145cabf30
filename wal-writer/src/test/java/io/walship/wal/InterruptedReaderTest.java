package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader whose thread is interrupted (a cancelled request, an executor shut down with
 * {@code shutdownNow}) must not break the store for everyone. {@code FileChannel} is an
 * interruptible channel: an interrupt during a read of {@code pages.dat} closes the channel, and
 * every later page read, eviction and checkpoint of the store used to fail until it was reopened
 * (the writer's eviction failing stopped the store).
 */
class InterruptedReaderTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String key(int i) {
        return String.format("key%06d", i);
    }

    @Test
    void anInterruptedPageReadLeavesTheStoreWorking() {
        int keys = 20_000;
        try (Store store = Store.open(tmp.resolve("d"), StoreOptions.defaults().withPoolPages(64))) {
            for (int i = 0; i < keys; i += 500) {
                WriteBatch batch = new WriteBatch();
                for (int j = i; j < i + 500; j++) {
                    batch.put(b(key(j)), new byte[64]);
                }
                store.write(batch, Durability.ASYNC);
            }
            store.checkpoint();
            assertTrue(store.pageCountForTesting() > 4 * 64, "the pages must not all fit in the pool");

            // reads on an interrupted thread: some of them miss the pool and read pages.dat
            Thread.currentThread().interrupt();
            try {
                for (int i = 0; i < keys; i += 97) {
                    try {
                        store.get(b(key(i)));
                    } catch (RuntimeException e) {
                        // the interrupted reader may fail; the store must not
                    }
                }
            } finally {
                Thread.interrupted();
            }

            for (int i = 0; i < keys; i += 89) {
                assertArrayEquals(new byte[64], store.get(b(key(i))), key(i));
            }
            store.put(b("after"), b("the interrupted reader"));
            store.checkpoint();
            assertFalse(store.failure().isPresent());
            for (int i = 0; i < keys; i += 83) {
                assertArrayEquals(new byte[64], store.get(b(key(i))), key(i));
            }
        }
    }

    /**
     * A WAL reader's poll on an interrupted thread (a consumer being cancelled) returns at once with
     * what there is (nothing here) and keeps the interrupt: it used to spin on a park the interrupt
     * ends at once until its timeout, a full core for a minute here.
     */
    @Test
    void aPollOnAnInterruptedThreadReturnsAtOnceAndKeepsTheInterrupt() {
        try (Store store = Store.open(tmp.resolve("d"))) {
            store.put(b("k"), b("v"));
            try (WalReader reader = store.walReader()) {
                while (reader.next() != null) {
                    // read to the end: the poll below finds nothing
                }
                assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                    Thread.currentThread().interrupt();
                    try {
                        assertNull(reader.poll(Duration.ofSeconds(60)));
                    } finally {
                        assertTrue(Thread.interrupted(), "the interrupt is kept for the caller");
                    }
                }, "an interrupted poll waited out (spinning) its 60 s timeout");
            }
        }
    }
}
