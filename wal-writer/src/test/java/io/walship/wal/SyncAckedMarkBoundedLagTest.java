package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code marks/sync-acked} is updated in place on every acknowledged sync commit, unsynced on that
 * path (a sync per ack would cost semi-sync its throughput). After the last acknowledgement of a
 * burst no further write comes to sync it, so unless something else does, it reaches the disk only
 * when the kernel writes the page back (30 s by default, unbounded by walship): a power loss in
 * that while leaves the mark behind commits the followers acknowledged, and a rejoin of this
 * node could then rewind past them without refusing (docs/OPERATIONS.md, "Rejoin"). The mark must
 * be durable at the last acknowledged LSN within a bounded time with no further acks.
 */
class SyncAckedMarkBoundedLagTest {
    @TempDir
    Path tmp;

    @Test
    void afterTheLastAckOfABurstTheMarkBecomesDurableWithoutFurtherAcks() {
        WalMarks marks = new WalMarks(tmp);
        try {
            marks.setSyncAcked(1); // the first write per open: a synced rename
            for (long lsn = 2; lsn <= 500; lsn++) {
                marks.setSyncAcked(lsn); // in place
            }
            assertEquals(OptionalLong.of(500), new WalMarks(tmp).syncAcked(), "written (page cache)");
            // no further ack: the last one must still reach the disk, within a bound (a deadline far
            // above it, for a loaded machine)
            Poll.until(Duration.ofSeconds(10), () -> marks.syncAckedDurableLsn() == 500,
                    () -> "the mark synced only up to " + marks.syncAckedDurableLsn() + " of 500 acknowledged");
        } finally {
            marks.close();
        }
    }

    /** A timer the test runs by hand: what was scheduled, and after how long. */
    private static final class ManualDelay implements WalMarks.Delay {
        final List<Runnable> tasks = new ArrayList<>();
        final List<Long> delays = new ArrayList<>();

        @Override
        public synchronized void after(long millis, Runnable task) {
            delays.add(millis);
            tasks.add(task);
        }

        synchronized int pending() {
            return tasks.size();
        }

        /** Runs the tasks scheduled so far (as the timer thread would, later). */
        void runDue() {
            List<Runnable> due;
            synchronized (this) {
                due = new ArrayList<>(tasks);
                tasks.clear();
            }
            due.forEach(Runnable::run);
        }
    }

    @Test
    void noAckSyncsTheMarkOneDelayedSyncCoversAWholeBurst() {
        ManualDelay delay = new ManualDelay();
        int[] forces = {0};
        WalMarks marks = new WalMarks(tmp, delay, f -> forces[0]++);
        marks.setSyncAcked(1); // renamed into place, synced
        assertEquals(1, marks.syncAckedDurableLsn());
        assertEquals(0, delay.pending(), "nothing to sync after the synced rename");
        for (long lsn = 2; lsn <= 1_000; lsn++) {
            marks.setSyncAcked(lsn);
        }
        assertEquals(0, forces[0], "no ack's write syncs");
        assertEquals(1, delay.pending(), "one sync scheduled for the whole burst");
        assertEquals(List.of(WalMarks.SYNC_ACKED_MAX_LAG_MILLIS), delay.delays, "at the bound");
        assertEquals(1, marks.syncAckedDurableLsn());

        delay.runDue(); // the bound has passed, no further ack
        assertEquals(1, forces[0]);
        assertEquals(1_000, marks.syncAckedDurableLsn(), "durable at the last acknowledged LSN");
        assertEquals(0, delay.pending(), "nothing more to do until the next ack");
        delay.runDue();
        assertEquals(1, forces[0]);

        marks.setSyncAcked(1_001); // the next burst schedules the next sync
        marks.setSyncAcked(1_002);
        assertEquals(1, delay.pending());
        marks.close(); // syncs what the timer has not yet
        assertEquals(2, forces[0]);
        assertEquals(1_002, marks.syncAckedDurableLsn());
        delay.runDue(); // the timer after close: nothing open, nothing to do
        assertEquals(2, forces[0]);
        assertEquals(OptionalLong.of(1_002), new WalMarks(tmp).syncAcked());
    }

    @Test
    void aWriteDuringASyncIsNotHeldUpAndTheNextSyncCoversIt() {
        ManualDelay delay = new ManualDelay();
        AtomicReference<WalMarks> ref = new AtomicReference<>();
        AtomicReference<Throwable> writer = new AtomicReference<>();
        int[] forces = {0};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (forces[0]++ == 0) {
                // an ack answered while the sync runs: its write must not wait for the sync
                Thread t = new Thread(() -> {
                    try {
                        ref.get().setSyncAcked(50);
                    } catch (Throwable e) {
                        writer.set(e);
                    }
                });
                t.start();
                try {
                    t.join(30_000);
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                assertTrue(!t.isAlive(), "a write waited for the mark's sync");
            }
        });
        ref.set(marks);
        marks.setSyncAcked(1);
        marks.setSyncAcked(40);
        delay.runDue();
        assertEquals(null, writer.get());
        assertEquals(40, marks.syncAckedDurableLsn(), "what was written when the sync started");
        assertEquals(1, delay.pending(), "the write during the sync scheduled the next one");
        delay.runDue();
        assertEquals(50, marks.syncAckedDurableLsn());
        marks.close();
        assertEquals(2, forces[0], "nothing left for close");
    }

    @Test
    void aFailedSyncIsReportedToTheNextAckAndTheMarkIsRewrittenWholeAfter() {
        ManualDelay delay = new ManualDelay();
        boolean[] fail = {true};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (fail[0]) {
                throw new IOException("Input/output error");
            }
        });
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        delay.runDue(); // fails: logged at ERROR, kept for the next caller
        assertEquals(1, marks.syncAckedDurableLsn());
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> marks.setSyncAcked(3));
        assertTrue(e.getMessage().contains("sync-acked") && e.getMessage().contains("Input/output error"), e.getMessage());
        fail[0] = false;
        marks.setSyncAcked(4); // the file was let go of: a whole mark renamed into place, synced
        assertEquals(4, marks.syncAckedDurableLsn());
        assertEquals(OptionalLong.of(4), new WalMarks(tmp).syncAcked());
        marks.setSyncAcked(5);
        delay.runDue();
        assertEquals(5, marks.syncAckedDurableLsn());
        marks.close();
    }

    @Test
    void closeSyncsWhatIsLeftAndReportsASyncFailureNoCallerWasToldOf() {
        ManualDelay delay = new ManualDelay();
        boolean[] fail = {false};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (fail[0]) {
                throw new IOException("No space left on device");
            }
        });
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        fail[0] = true;
        UncheckedIOException e = assertThrows(UncheckedIOException.class, marks::close, "the final sync failed");
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        assertEquals(1, marks.syncAckedDurableLsn());

        WalMarks other = new WalMarks(tmp, delay, f -> {
            if (fail[0]) {
                throw new IOException("No space left on device");
            }
        });
        fail[0] = false;
        other.setSyncAcked(3);
        other.setSyncAcked(4);
        fail[0] = true;
        delay.runDue(); // fails with no ack after it
        e = assertThrows(UncheckedIOException.class, other::close, "the delayed sync's failure no caller was told of");
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        other.close(); // reported once
    }
}
