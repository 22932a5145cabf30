package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch limits and failed appends (defect 6): a batch over a limit is refused with
 * {@link BatchTooLargeException}; an append that fails before anything is written rolls the
 * commit back completely (pages restored, LSN not used) and the store goes on; an append that
 * breaks inside Chronicle stops the store, and reopening finds exactly the acknowledged commits.
 */
class AppendFailureTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void batchesOverTheLimitsAreRefusedUpFront() {
        WriteBatch many = new WriteBatch();
        for (int i = 0; i < WriteBatch.MAX_OPS; i++) {
            many.delete(b("k" + i));
        }
        BatchTooLargeException ops = assertThrows(BatchTooLargeException.class, () -> many.delete(b("one-more")));
        assertTrue(ops.getMessage().contains(String.valueOf(WriteBatch.MAX_OPS)), ops.getMessage());

        WriteBatch big = new WriteBatch();
        byte[] value = new byte[1024];
        BatchTooLargeException bytes = assertThrows(BatchTooLargeException.class, () -> {
            for (int i = 0; ; i++) {
                big.put(b(String.format("key-%06d", i)), value);
            }
        });
        assertTrue(bytes.getMessage().contains(String.valueOf(WriteBatch.MAX_BYTES)), bytes.getMessage());
        assertTrue(big.bytes() <= WriteBatch.MAX_BYTES);
    }

    @Test
    void noSpaceForTheAppendRollsTheCommitBackAndTheStoreGoesOn() {
        Path dir = tmp.resolve("d");
        TestSpace space = new TestSpace();
        WalSeams seams = WalSeams.defaults().withSpace(() -> space);
        StateDigest before;
        long last;
        try (Store store = Store.open(dir, StoreOptions.defaults(), seams)) {
            // enough to need more WAL space than the first claim
            byte[] v = new byte[1000];
            for (int i = 0; i < 50; i++) {
                WriteBatch wb = new WriteBatch();
                for (int j = 0; j < 40; j++) {
                    wb.put(b("k" + i + "." + j), v);
                }
                store.write(wb);
            }
            before = store.digest();
            last = store.lastLsn();
            space.full = true;
            StorageFullException e = null;
            for (int i = 0; i < 2000 && e == null; i++) {
                try {
                    WriteBatch wb = new WriteBatch();
                    for (int j = 0; j < 40; j++) {
                        wb.put(b("x" + i + "." + j), v);
                    }
                    store.write(wb);
                    last = store.lastLsn();
                    before = store.digest();
                } catch (StorageFullException x) {
                    e = x;
                }
            }
            assertTrue(e != null, "the WAL never needed more space");
            assertTrue(e.getMessage().contains("no space for the WAL"), e.getMessage());
            assertEquals(last, store.lastLsn(), "the refused commit took no LSN");
            assertEquals(before, store.digest(), "the refused commit left no trace in the pages");
            assertTrue(store.failure().isEmpty(), "running out of space does not stop the store");

            space.full = false;
            assertEquals(last + 1, store.put(b("after"), b("space returned")));
            assertEquals(store.digest(), PageImage.replayWal(dir).digest());
        }
        try (Store reopened = Store.open(dir)) {
            assertEquals(last + 1, reopened.lastLsn());
            assertArrayEquals(b("space returned"), reopened.get(b("after")));
        }
    }

    @Test
    void anOversizedEntryIsRolledBackOrStopsTheStore() {
        // a store whose next batch touches one leaf in each of thousands: a WAL entry of ~30 MiB
        // of full-page images from a batch of small deletes (1.8 MiB of keys). Three pairs fill a
        // leaf (sequential loads pack leaves), and deleting every third leaves each leaf two
        // thirds full, so no leaf is merged and every one is logged
        Path dir = tmp.resolve("d");
        StoreOptions opts = StoreOptions.defaults().withPoolPages(16_384);
        int pairs = 27_000;
        byte[] value = new byte[1024];
        try (Store store = Store.open(dir, opts)) {
            for (int i = 0; i < pairs; i += 150) {
                WriteBatch wb = new WriteBatch();
                for (int j = i; j < Math.min(pairs, i + 150); j++) {
                    Arrays.fill(value, (byte) j);
                    wb.put(key(j), value.clone());
                }
                store.write(wb);
            }
            store.checkpoint(); // the next change to every leaf logs its full image
        }
        WriteBatch deletes = new WriteBatch();
        for (int j = 0; j < pairs; j += 3) {
            deletes.delete(key(j));
        }

        // with the default limit: refused, rolled back, the store goes on
        long last;
        StateDigest before;
        try (Store store = Store.open(dir, opts)) {
            last = store.lastLsn();
            before = store.digest();
            BatchTooLargeException e = assertThrows(BatchTooLargeException.class, () -> store.write(deletes));
            assertTrue(e.getMessage().contains(String.valueOf(WriteBatch.MAX_ENTRY_BYTES)), e.getMessage());
            assertEquals(last, store.lastLsn());
            assertEquals(before, store.digest());
            assertTrue(store.failure().isEmpty());
            assertEquals(last + 1, store.put(key(0), b("still open")));
            last++;
        }

        // without it, Chronicle refuses the document half-way (its limit is 16 MiB): fail-stop
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withMaxEntryBytes(Integer.MAX_VALUE))) {
            StoreFailedException e = assertThrows(StoreFailedException.class, () -> store.write(deletes));
            assertTrue(e.getMessage().contains("appending LSN " + Lsn.format(last + 1)), e.getMessage());
            assertTrue(store.failure().isPresent());
            assertThrows(StoreFailedException.class, () -> store.put(b("later"), b("x")));
        }
        try (Store store = Store.open(dir, opts)) {
            assertEquals(last, store.lastLsn(), "nothing of the broken append is in the WAL");
            assertArrayEquals(b("still open"), store.get(key(0)));
            Arrays.fill(value, (byte) 2);
            assertArrayEquals(value, store.get(key(2)), "the broken batch was not applied");
            assertNull(store.get(b("later")));
            assertEquals(last + 1, store.put(b("later"), b("y")), "the LSN is reused");
            assertEquals(store.digest(), PageImage.replayWal(dir).digest());
        }
    }

    private static byte[] key(int i) {
        return b(String.format("%06d", i) + "-".repeat(194));
    }
}
