package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With several required archives the WAL is deleted only below what every one of them holds
 * ({@code marks/archived.ID}), and a legacy {@code marks/archived} stays a floor beside them.
 */
class MultiArchiveRetentionTest {
    @TempDir
    Path tmp;

    private int written;

    private static long cycleFiles(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve(WalLog.DIR_NAME))) {
            return s.filter(p -> p.toString().endsWith(".cq4")).count();
        }
    }

    private void writeCycles(Store store, SetTimeProvider clock) {
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 20; i++) {
                store.put(("k" + written++).getBytes(StandardCharsets.UTF_8), new byte[50]);
            }
            clock.advanceMillis(1_100);
        }
        store.put(("k" + written++).getBytes(StandardCharsets.UTF_8), new byte[50]);
    }

    @Test
    void deletesOnlyWhatEveryRequiredArchiveHolds() throws Exception {
        Path dir = tmp.resolve("d");
        StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);
        SetTimeProvider clock = new SetTimeProvider(java.time.Instant.parse("2026-12-04T10:00:00Z"));
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
            writeCycles(store, clock);
            long files = cycleFiles(dir);
            assertTrue(files >= 4, "expected several cycle files, got " + files);
            WalMarks marks = store.marks();

            marks.createArchived("aaaaaaaaaaaaaaaa", 0); // a new archive: holds everything from the start
            marks.setArchived("bbbbbbbbbbbbbbbb", store.lastLsn());
            store.checkpoint();
            assertEquals(files, cycleFiles(dir), "archive a holds nothing yet: nothing may be deleted");
            assertEquals(0, marks.archived().getAsLong());

            marks.setArchived("aaaaaaaaaaaaaaaa", 10);
            store.checkpoint();
            assertEquals(files, cycleFiles(dir), "archive a holds only up to LSN 10: the first file stays");
            assertEquals(10, marks.archived().getAsLong(), "the floor is the lowest required mark");

            marks.setArchived(store.lastLsn()); // a legacy single-archive mark beside them
            marks.setArchived("aaaaaaaaaaaaaaaa", store.lastLsn());
            assertEquals(store.lastLsn(), marks.archived().getAsLong());
            marks.setArchived("bbbbbbbbbbbbbbbb", 5); // never backwards
            assertEquals(store.lastLsn(), marks.archived("bbbbbbbbbbbbbbbb").getAsLong());
            store.checkpoint();
            assertEquals(1, cycleFiles(dir), "every archive holds it all: all but the current file can go");
        }
    }

    @Test
    void aLegacyMarkIsAFloorUntilRemoved() throws Exception {
        Path dir = tmp.resolve("d2");
        try (Store store = Store.open(dir)) {
            WalMarks marks = store.marks();
            marks.setArchived(7);
            marks.setArchived("cccccccccccccccc", 50);
            assertEquals(7, marks.archived().getAsLong(), "the legacy mark is still a floor");
            marks.removeLegacyArchived();
            assertTrue(marks.legacyArchived().isEmpty());
            assertEquals(50, marks.archived().getAsLong());
            marks.createArchived("cccccccccccccccc", 0);
            assertEquals(50, marks.archived("cccccccccccccccc").getAsLong(), "creating keeps an existing mark");
        }
    }
}
