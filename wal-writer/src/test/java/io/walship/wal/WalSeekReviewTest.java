package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Path;
import java.time.Instant;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.core.time.SetTimeProvider;
import net.openhft.chronicle.queue.ExcerptAppender;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.queue.rollcycles.TestRollCycles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the "one past the end" shortcut in {@link WalLog#seek}: across roll cycles the tailer
 * must still land where the next entry with an LSN of at least the one sought is read.
 */
class WalSeekReviewTest {
    @TempDir
    Path tmp;

    private static SingleChronicleQueue queue(Path data, SetTimeProvider clock) {
        return SingleChronicleQueueBuilder.binary(data.resolve(WalLog.DIR_NAME).toFile())
                .rollCycle(TestRollCycles.TEST_SECONDLY).timeProvider(clock).build();
    }

    private static void append(SingleChronicleQueue q, long from, long to) {
        try (ExcerptAppender a = q.createAppender()) {
            for (long lsn = from; lsn <= to; lsn++) {
                a.writeBytes(Bytes.wrapForRead(WalSurgery.entry(lsn, (int) lsn)));
            }
        }
    }

    private static long nextLsn(ExcerptTailer t) {
        WalLog.RawEntry e = WalLog.read(t);
        return e == null ? -1 : e.headerLsn();
    }

    @Test
    void aGapBetweenCyclesIsStillSeenAfterSeekingIntoIt() {
        Path data = tmp.resolve("d");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        try (SingleChronicleQueue q = queue(data, clock)) {
            append(q, 1, 5);
            clock.advanceMillis(1_100);
            append(q, 7, 9); // LSN 6 is missing: the older cycle ends just before the LSN sought
        }
        try (WalLog log = new WalLog(data, true, TestRollCycles.TEST_SECONDLY); ExcerptTailer t = log.tailer()) {
            for (long lsn = 1; lsn <= 10; lsn++) {
                log.seek(t, lsn);
                long want = lsn == 6 ? 7 : lsn <= 9 ? lsn : -1;
                assertEquals(want, nextLsn(t), "the entry read after seeking to " + lsn);
            }
        }
    }

    @Test
    void aReaderOnePastTheEndOfACycleReadsTheNextCycleOnceWritten() {
        Path data = tmp.resolve("d");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        try (SingleChronicleQueue q = queue(data, clock)) {
            append(q, 1, 5);
            try (WalLog log = new WalLog(data, true, TestRollCycles.TEST_SECONDLY); ExcerptTailer t = log.tailer()) {
                log.seek(t, 6);
                clock.advanceMillis(1_100);
                append(q, 6, 8); // written to a newer cycle after the seek
                assertEquals(6, nextLsn(t));
                assertEquals(7, nextLsn(t));
                // and seeking one past the end of the newer cycle, with the older one before it
                log.seek(t, 9);
                assertNull(WalLog.read(t));
                log.seek(t, 6);
                assertEquals(6, nextLsn(t));
            }
        }
    }

    @Test
    void aStoreRollingItsWalKeepsACaughtUpReaderInStep() {
        Path dir = tmp.resolve("store");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        StoreOptions opts = StoreOptions.defaults().withRollCycle(TestRollCycles.TEST_SECONDLY);
        try (Store store = Store.open(dir, opts, WalSeams.defaults().withWalTime(clock))) {
            for (int round = 0; round < 4; round++) {
                store.put(("k" + round).getBytes(), "v".getBytes());
                long last = store.lastLsn();
                try (WalReader r = store.walReader()) {
                    r.seek(last + 1);
                    assertNull(r.next());
                    clock.advanceMillis(1_100);
                    store.put(("j" + round).getBytes(), "w".getBytes());
                    WalEntry e = r.next();
                    assertNotNull(e, "the entry after LSN " + last + ", in the next cycle");
                    assertEquals(last + 1, e.lsn());
                }
            }
        }
    }

    /**
     * A reader that seeks one past the end while another queue instance (as another process)
     * appends: whatever lands between seek's reads, the next entry read is the one sought.
     */
    @Test
    void seekingOnePastTheEndWhileAnAppenderRacesLandsOnTheEntrySought() throws Exception {
        Path data = tmp.resolve("d");
        SetTimeProvider clock = new SetTimeProvider(Instant.parse("2026-11-24T10:00:00Z"));
        int n = 600;
        try (SingleChronicleQueue q = queue(data, clock)) {
            append(q, 1, 1);
            // the writer appends LSN k only once the reader has begun seeking to it: the append races the seek
            java.util.concurrent.atomic.AtomicLong sought = new java.util.concurrent.atomic.AtomicLong(1);
            java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
            Thread writer = new Thread(() -> {
                try (ExcerptAppender a = q.createAppender()) {
                    for (long lsn = 2; lsn <= n; lsn++) {
                        long deadline = System.nanoTime() + 30_000_000_000L;
                        while (sought.get() < lsn) {
                            if (System.nanoTime() > deadline) {
                                throw new AssertionError("the reader never sought LSN " + lsn);
                            }
                            Thread.onSpinWait();
                        }
                        a.writeBytes(Bytes.wrapForRead(WalSurgery.entry(lsn, (int) lsn)));
                        if (lsn % 200 == 0) {
                            clock.advanceMillis(1_100); // and roll now and then
                        }
                    }
                } catch (Throwable t) {
                    failed.set(t);
                }
            }, "racing-appender");
            writer.start();
            try (WalLog log = new WalLog(data, true, TestRollCycles.TEST_SECONDLY); ExcerptTailer t = log.tailer()) {
                for (long k = 2; k <= n; k++) {
                    sought.set(k);
                    log.seek(t, k);
                    long deadline = System.nanoTime() + 30_000_000_000L;
                    WalLog.RawEntry e;
                    while ((e = WalLog.read(t)) == null) {
                        if (System.nanoTime() > deadline || failed.get() != null) {
                            throw new AssertionError("no entry after seeking to " + k, failed.get());
                        }
                        Thread.onSpinWait();
                    }
                    assertEquals(k, e.headerLsn(), "the entry read after seeking to " + k);
                }
            }
            writer.join();
            if (failed.get() != null) {
                throw new AssertionError(failed.get());
            }
        }
    }
}
