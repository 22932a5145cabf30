package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;

import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.rollcycles.LargeRollCycles;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link WalReader#open} (another process's reader) is not told the roll cycle the WAL was written
 * with ({@link StoreOptions#rollCycle}): it must read and seek a WAL written with another cycle than
 * the default as the writer's own reader does, across its cycle files.
 */
class WalReaderRollCycleTest {
    @TempDir
    Path tmp;

    /**
     * Chronicle takes the cycle from the queue's metadata when it opens an existing queue, but
     * {@link WalLog} computed queue indices and file names with the cycle it was given: right only
     * while the two encode indices alike (TEST_SECONDLY and FAST_HOURLY do, LARGE_DAILY does not).
     */
    @ParameterizedTest
    @ValueSource(strings = {"TEST_SECONDLY", "LARGE_DAILY"})
    void aReaderInAnotherProcessSeeksAWalWrittenWithAnotherRollCycle(String cycle) throws Exception {
        RollCycle rc = cycle.equals("LARGE_DAILY") ? LargeRollCycles.LARGE_DAILY : TestRollCycles.valueOf(cycle);
        Path dir = tmp.resolve("store-" + cycle);
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-12-03T10:00:00Z"));
        StoreOptions opts = StoreOptions.defaults().withRollCycle(rc);
        int cycles = 4;
        int perCycle = 50;
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
            for (int c = 0; c < cycles; c++) {
                for (int i = 0; i < perCycle; i++) {
                    store.put(("k" + c + "-" + i).getBytes(), "v".getBytes());
                }
                clock.advanceMillis(rc.lengthInMillis() + 100); // the next cycle file
            }
            long last = store.lastLsn();
            long files;
            try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(dir.resolve(WalLog.DIR_NAME))) {
                files = s.filter(p -> p.toString().endsWith(".cq4")).count();
            }
            assertTrue(files >= cycles, "the WAL spans " + files + " cycle files");
            try (WalReader r = WalReader.open(dir)) {
                long first = r.firstAvailableLsn();
                assertTrue(first >= 1 && first < last - cycles * perCycle / 2, "first " + first + ", last " + last);
                for (long lsn = last; lsn >= first; lsn--) { // every entry: the first and last of each cycle file too
                    r.seek(lsn);
                    for (long want = lsn; want <= Math.min(last, lsn + 2); want++) {
                        WalEntry e = r.next();
                        assertNotNull(e, "the entry after seeking to " + lsn);
                        assertEquals(want, e.lsn(), "read after seeking to " + lsn);
                    }
                }
                r.seek(first);
                long n = 0;
                for (WalEntry e; (e = r.next()) != null; n++) {
                    assertEquals(first + n, e.lsn());
                }
                assertEquals(last - first + 1, n, "every entry, in order");
                r.seek(last + 1);
                assertNull(r.next(), "nothing past the end");
            }
        }
    }
}
