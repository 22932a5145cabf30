package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** WAL is deleted only when checkpointed, archived and consumed by every registered consumer. */
class WalRetentionTest {
    @TempDir
    Path tmp;

    private static long cycleFiles(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve(WalLog.DIR_NAME))) {
            return s.filter(p -> p.toString().endsWith(".cq4")).count();
        }
    }

    private static int written;

    private static void writeSome(Store store, int n) {
        for (int i = 0; i < n; i++) {
            store.put(("k" + written++).getBytes(StandardCharsets.UTF_8), new byte[50]);
        }
    }

    @Test
    void deletesOnlyWhatIsArchivedCheckpointedAndConsumed() throws Exception {
        Path dir = tmp.resolve("d");
        StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.parse("2026-11-24T10:00:00Z"));
        WalSeams seams = WalSeams.defaults().withWalTime(clock); // the WAL's clock: files roll without waiting
        try (Store store = Store.open(dir, opts, seams)) {
            for (int c = 0; c < 3; c++) {
                writeSome(store, 20);
                clock.advanceMillis(1_100);
            }
            writeSome(store, 5);
            long files = cycleFiles(dir);
            assertTrue(files >= 4, "expected several cycle files, got " + files);

            store.checkpoint();
            assertEquals(files, cycleFiles(dir), "nothing archived yet: nothing may be deleted");

            store.marks().setConsumer("follower-1", 10);
            store.marks().setArchived(store.lastLsn());
            store.checkpoint();
            assertEquals(files, cycleFiles(dir), "a consumer at LSN 10 still needs the first file");

            store.marks().setConsumer("follower-1", store.lastLsn());
            store.checkpoint();
            assertEquals(1, cycleFiles(dir), "all but the current file can go");

            try (WalReader r = store.walReader()) {
                WalNoLongerAvailableException e = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(2));
                assertTrue(e.firstAvailable() > 2);
                r.seek(e.firstAvailable());
                assertEquals(e.firstAvailable(), r.next().lsn());
            }
        }
        try (Store reopened = Store.open(dir, opts, seams)) {
            assertEquals(65 + 1, reopened.lastLsn());
        }
    }
}
