package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A failed fsync of {@code pages.dat} during a checkpoint stops the store (fail-stop), as a failed
 * WAL sync does. The pages the checkpoint and earlier evictions wrote are marked clean (and may
 * have left the pool); after a failed fsync the kernel may have dropped them too. It used to be
 * logged and the store went on: the next checkpoint, finding nothing dirty, synced without error
 * (the error was already reported), recorded a checkpoint past the lost pages and let retention
 * delete the WAL that could have redone them.
 */
class PageFileSyncFailureTest {
    @TempDir
    Path tmp;

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void aFailedPageFileSyncStopsTheStoreAndNoLaterCheckpointIsRecorded() {
        Path dir = tmp.resolve("d");
        long firstCheckpoint;
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 300; i++) {
                store.put(b("a" + i), b("before the first checkpoint " + i), Durability.ASYNC);
            }
            firstCheckpoint = store.checkpoint();
            for (int i = 0; i < 300; i++) {
                store.put(b("b" + i), b("acknowledged after it " + i));
            }
            Checkpointer cp = store.checkpointerForTesting();
            cp.hooksForTesting(new Checkpointer.Hooks() {
                @Override
                public void syncPageFile(PageFile file) {
                    throw new UncheckedIOException("fsync " + file.path() + ": injected EIO",
                            new IOException("Input/output error"));
                }
            });
            assertThrows(RuntimeException.class, store::checkpoint);
            assertTrue(store.failure().isPresent(), "a failed fsync of pages.dat must stop the store");
            assertThrows(StoreFailedException.class, () -> store.put(b("c"), b("after the failure")));

            cp.hooksForTesting(new Checkpointer.Hooks() {
            });
            assertThrows(StoreFailedException.class, store::checkpoint);
            assertEquals(firstCheckpoint, ControlFile.read(dir).checkpointLsn(),
                    "no checkpoint may be recorded after a failed fsync of pages.dat");
        }
        try (Store store = Store.open(dir)) {
            for (int i = 0; i < 300; i++) {
                assertArrayEquals(b("before the first checkpoint " + i), store.get(b("a" + i)));
                assertArrayEquals(b("acknowledged after it " + i), store.get(b("b" + i)));
            }
        }
    }
}
