package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch ackmark2: {@code forceSyncAcked} sets {@code syncAckedSyncing} before the
 * {@code fdatasync} and clears it after, catching only {@code IOException} and
 * {@code RuntimeException} and with no {@code finally}. A sync that ends in an {@code Error} (an
 * {@code OutOfMemoryError}, an {@code InternalError} from the JDK; on the shared worker pool it
 * just ends that worker thread, logged by nobody) leaves the flag set for good: every later write
 * finds "a sync is running" and schedules nothing, so the mark is never synced again while the
 * store is open (commits answered 200 meanwhile), and close waits its whole bound for a sync that
 * is not running and then fails with "did not return" (a disk that hangs?) — the wrong diagnosis.
 */
class SyncAckedMarkSyncErrorReviewTest {
    @TempDir
    Path tmp;

    private static final class ManualDelay implements WalMarks.Delay {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void after(long millis, Runnable task) {
            tasks.add(task);
        }

        synchronized int pending() {
            return tasks.size();
        }

        void runDue() {
            List<Runnable> due;
            synchronized (this) {
                due = new ArrayList<>(tasks);
                tasks.clear();
            }
            for (Runnable r : due) {
                try {
                    r.run();
                } catch (Error e) {
                    // as on a worker of the pool: the thread ends, nobody is told
                }
            }
        }
    }

    @Test
    void aSyncEndingInAnErrorDoesNotStopEveryLaterSync() {
        ManualDelay delay = new ManualDelay();
        int[] calls = {0};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (calls[0]++ == 0) {
                throw new OutOfMemoryError("simulated: the first sync ends in an Error");
            }
        });
        marks.setSyncAcked(1); // renamed into place, synced
        marks.setSyncAcked(2); // in place: the delayed sync is scheduled
        delay.runDue(); // that sync ends in an Error
        marks.setSyncAcked(3); // a later ack: its write must get a sync again
        assertEquals(1, delay.pending(), "after a sync that ended in an Error, a later write schedules no sync"
                + " (the store believes a sync is still running): the mark is never synced again while open");
        delay.runDue();
        assertEquals(3, marks.syncAckedDurableLsn());
        marks.close();
        assertEquals(OptionalLong.of(3), new WalMarks(tmp).syncAcked());
    }
}
