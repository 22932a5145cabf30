package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch cyclerace: cases where the fallbacks for retention's deletes (WalLog.toStart,
 * cycles(), seek's restart) take something other than retention for retention.
 */
class WalCycleRaceReview27Test {
    @TempDir
    Path tmp;

    private final SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-05T08:50:00Z"));
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
            clock.advanceMillis(1_100);
        }
        last = store.lastLsn();
        assertEquals(3, cycleFiles(dir).size(), "three cycle files: " + cycleFiles(dir));
        return store;
    }

    private static List<Path> cycleFiles(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir.resolve(WalLog.DIR_NAME))) {
            return new ArrayList<>(s.filter(p -> p.toString().endsWith(".cq4")).sorted().toList());
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
