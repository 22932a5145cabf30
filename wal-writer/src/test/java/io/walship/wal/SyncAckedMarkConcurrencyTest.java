package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several commit threads record acked LSNs out of order into one WalMarks (the store's), while
 * the store is closed and reopened in between (a new WalMarks on the same directory): the mark
 * read back is never below the highest LSN recorded before the read, and ends at the highest.
 */
class SyncAckedMarkConcurrencyTest {
    @TempDir
    Path tmp;

    @Test
    void outOfOrderConcurrentCallersAndReopensNeverMoveTheMarkBack() throws Exception {
        long seed = System.nanoTime();
        System.out.println("SyncAckedMarkConcurrencyTest seed " + seed);
        Random seeds = new Random(seed);
        long highest = 0;
        for (int round = 0; round < 5; round++) {
            WalMarks marks = new WalMarks(tmp);
            long base = highest;
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>();
            long[] maxPerThread = new long[4];
            for (int t = 0; t < 4; t++) {
                Random r = new Random(seeds.nextLong());
                int idx = t;
                threads.add(new Thread(() -> {
                    try {
                        for (int i = 0; i < 500; i++) {
                            long lsn = base + 1 + r.nextInt(5_000);
                            marks.setSyncAcked(lsn);
                            maxPerThread[idx] = Math.max(maxPerThread[idx], lsn);
                            long seen;
                            // read under the writer's monitor: an in-place write is not atomic
                            // against a concurrent read(2) of the file (no reader of a running
                            // leader's mark exists; Rejoin reads it under the store's lock)
                            synchronized (marks) {
                                seen = new WalMarks(tmp).syncAcked().orElse(-1);
                            }
                            assertTrue(seen >= maxPerThread[idx], "read " + seen + " after recording " + lsn);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            assertTrue(failures.isEmpty(), "seed " + seed + ": " + failures);
            for (long m : maxPerThread) {
                highest = Math.max(highest, m);
            }
            marks.setSyncAcked(base); // a stale ack after the others: never backwards
            marks.close();
            assertEquals(OptionalLong.of(highest), new WalMarks(tmp).syncAcked(), "seed " + seed);
            assertEquals(17, Files.size(tmp.resolve(WalMarks.DIR_NAME).resolve("sync-acked")));
        }
    }
}
