package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Retention ({@link WalLog#deleteUpTo}, on the leader's checkpoint thread) deletes the oldest WAL
 * cycle files while readers seek: in the writer's process (its own readers share its queue) and in
 * another (a shipper's {@link WalReader#open}). Chronicle's idea of the first cycle lags behind such
 * a delete: the writer updates it only once its whole delete is done, a reader holds it until its
 * listing is refreshed. A seek in that window must not fail with Chronicle's
 * {@code 'file not found' for the lowerCycle}, and must report the deleted prefix as no longer
 * available, never as a gap. And the other way round (review27): a file that is there but cannot be
 * read is never taken for one retention deleted.
 */
class WalCycleDeletedUnderReaderTest {
    @TempDir
    Path tmp;

    private final SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-05T08:50:00Z"));

    /** The first LSN of each of the three cycle files written, and the last LSN. */
    private long[] firsts;
    private long last;

    private Store openWithThreeCycles(Path dir) throws Exception {
        Store store = Store.open(dir, StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY),
                WalSeams.defaults().withWalTime(clock));
        firsts = new long[3];
        for (int c = 0; c < 3; c++) {
            firsts[c] = store.lastLsn() + 1;
            for (int i = 0; i < 5; i++) {
                store.put(("k" + c + "-" + i).getBytes(StandardCharsets.UTF_8), "v".getBytes(StandardCharsets.UTF_8));
            }
            clock.advanceMillis(1_100); // the next cycle file
        }
        last = store.lastLsn();
        assertEquals(3, cycleFiles(dir).size(), "three cycle files: " + cycleFiles(dir));
        return store;
    }

    private static List<Path> cycleFiles(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve(WalLog.DIR_NAME))) {
            List<Path> out = new ArrayList<>(s.filter(p -> p.toString().endsWith(".cq4")).sorted().toList());
            return out;
        }
    }

    /** What retention does to each file it deletes (before it refreshes Chronicle's listing, once done). */
    private static void deleteOldest(Path dir, int n) throws Exception {
        List<Path> files = cycleFiles(dir);
        for (int i = 0; i < n; i++) {
            assertTrue(files.get(i).toFile().delete(), "deleted " + files.get(i));
        }
    }

    private void assertReadsFrom(WalReader r, long lsn) {
        r.seek(lsn);
        for (long want = lsn; want <= last; want++) {
            WalEntry e = r.next();
            assertNotNull(e, "the entry after seeking to " + lsn);
            assertEquals(want, e.lsn(), "read after seeking to " + lsn);
        }
    }

    @Test
    void aReaderInAnotherProcessSeeksWhileTheOldestCycleFileIsDeleted() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = WalReader.open(dir)) {
            assertReadsFrom(r, firsts[1] + 2); // Chronicle has listed the cycles
            deleteOldest(dir, 1);
            assertReadsFrom(r, firsts[1] + 2);
            assertReadsFrom(r, firsts[1]);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[0] + 1));
            assertEquals(firsts[1], gone.firstAvailable());
        }
    }

    /**
     * The case seen in a shipper: a reader still in the deleted file (its tailer has it mapped)
     * finds the deleted file's first entry as the WAL's first, then Chronicle fails to list the
     * cycles from it ({@code 'file not found' for the lowerCycle}).
     */
    @Test
    void aReaderStillInTheDeletedFileSeeksOn() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = WalReader.open(dir)) {
            r.seek(firsts[0] + 1);
            assertEquals(firsts[0] + 1, r.next().lsn());
            deleteOldest(dir, 1);
            assertReadsFrom(r, firsts[1] + 2);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[0] + 1));
            assertEquals(firsts[1], gone.firstAvailable());
        }
    }

    /** A reader opened in the window: Chronicle's first cycle, shared by the writer, names the deleted file. */
    @Test
    void aReaderOpenedWhileTheOldestCycleFileIsDeletedSeeks() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir)) {
            deleteOldest(dir, 1);
            try (WalReader r = WalReader.open(dir)) {
                assertReadsFrom(r, firsts[1] + 2);
            }
            try (WalReader r = WalReader.open(dir)) {
                assertEquals(firsts[1], r.firstAvailableLsn());
                WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[0]));
                assertEquals(firsts[1], gone.firstAvailable());
            }
        }
    }

    @Test
    void theWritersOwnReaderSeeksWhileTheOldestCycleFileIsDeleted() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = store.walReader()) {
            assertReadsFrom(r, firsts[1] + 2);
            deleteOldest(dir, 1);
            assertReadsFrom(r, firsts[1] + 2);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[0] + 1));
            assertEquals(firsts[1], gone.firstAvailable());
        }
    }

    /** Deletes the {@code n} oldest cycle files once, in {@code r}'s next seek, just after it listed them. */
    private static void deleteInNextSeek(WalReader r, Path dir, int n) {
        boolean[] once = {false};
        r.log().afterSeekListedCyclesForTesting(() -> {
            if (!once[0]) {
                once[0] = true;
                try {
                    deleteOldest(dir, n);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
        });
    }

    /**
     * Files listed by a seek and deleted before it reads them: the entry sought went with them, and
     * the seek must say so (no longer available), not leave the reader where it finds a gap.
     */
    @Test
    void cycleFilesDeletedBetweenListingAndReadingThemInASeek() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = WalReader.open(dir)) {
            deleteInNextSeek(r, dir, 2);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[1] + 1));
            assertEquals(firsts[2], gone.firstAvailable());
            assertReadsFrom(r, firsts[2]);
        }
    }

    @Test
    void cycleFilesDeletedBetweenListingAndReadingThemInASeekOfTheWritersOwnReader() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = store.walReader()) {
            deleteInNextSeek(r, dir, 2);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[1] + 1));
            assertEquals(firsts[2], gone.firstAvailable());
            assertReadsFrom(r, firsts[2] + 1);
        }
    }

    /** As above, while another reader of the writer still has the deleted file mapped (it stays readable). */
    @Test
    void cycleFilesDeletedInASeekWhileAnotherReaderStillHasThemMapped() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = store.walReader(); WalReader other = store.walReader()) {
            other.seek(firsts[0] + 1);
            assertEquals(firsts[0] + 1, other.next().lsn());
            deleteInNextSeek(r, dir, 2);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[1] + 1));
            assertEquals(firsts[2], gone.firstAvailable());
            assertReadsFrom(r, firsts[2] + 1);
        }
    }

    @Test
    void oneCycleFileDeletedBetweenListingAndReadingItInASeek() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = WalReader.open(dir)) {
            deleteInNextSeek(r, dir, 1);
            assertReadsFrom(r, firsts[1] + 1);
            assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[0] + 1));
        }
    }

    @Test
    void twoCycleFilesDeletedAtOnceToo() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader r = WalReader.open(dir)) {
            assertReadsFrom(r, firsts[0] + 2);
            deleteOldest(dir, 2);
            assertReadsFrom(r, firsts[2] + 1);
            WalNoLongerAvailableException gone = assertThrows(WalNoLongerAvailableException.class, () -> r.seek(firsts[1] + 1));
            assertEquals(firsts[2], gone.firstAvailable());
        }
    }

    /** Zeroes a cycle file's first header word: the file is there, Chronicle cannot open it (bit rot, a bad sector). */
    private static void damageHeader(Path file) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[4]), 0);
            ch.force(true);
        }
    }

    /**
     * The oldest cycle file is there but damaged so Chronicle cannot open it. That is not
     * retention: a reader must not report its LSNs as "no longer available" (a follower asking for
     * them is told 410 and re-bootstraps; the shipper skips its splice check), it must fail.
     */
    @Test
    void anOldestCycleFileThatIsThereButUnreadableIsNotTakenForRetention() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir)) {
            Path f0 = cycleFiles(dir).get(0);
            damageHeader(f0);
            assertTrue(Files.exists(f0));
            try (WalReader r = WalReader.open(dir)) {
                long t0 = System.nanoTime();
                RuntimeException e = assertThrows(RuntimeException.class, () -> {
                    r.seek(firsts[0] + 1);
                    WalEntry got = r.next();
                    throw new AssertionError("read " + (got == null ? "nothing" : "LSN " + got.lsn()) + " from a damaged file");
                });
                System.out.println("seek in a damaged oldest file: " + e + " after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                assertFalse(e instanceof WalNoLongerAvailableException,
                        "an unreadable cycle file that is there was reported as deleted by retention: " + e);
            }
        }
    }

    /**
     * A reader that has not sought starts at the WAL's first entry ({@code expected} from
     * firstAvailableLsn, on a tailer of its own), but reads on from its own tailer, which Chronicle
     * put at the start when the reader was made: in a file retention has deleted since. The branch's
     * toStart fallback is not applied to that tailer.
     */
    @Test
    void aReaderMadeBeforeRetentionsDeleteReadsFromTheWalsNewStartWithoutASeek() throws Exception {
        Path dir = tmp.resolve("d");
        try (Store store = openWithThreeCycles(dir); WalReader own = store.walReader(); WalReader other = WalReader.open(dir)) {
            Path f0 = cycleFiles(dir).get(0);
            assertTrue(f0.toFile().delete()); // what retention does first
            for (WalReader r : List.of(own, other)) {
                WalEntry e = r.next();
                assertEquals(firsts[1], e == null ? -1 : e.lsn(), "the first entry read after the oldest file went");
            }
        }
    }
}
