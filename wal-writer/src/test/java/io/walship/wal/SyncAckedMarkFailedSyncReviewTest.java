package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch ackmark: what happens to the acknowledged LSNs whose delayed sync failed. The
 * commits that wrote them were already answered 200 (their write was in the page cache, the sync
 * was promised within 50 ms); the failure goes to the next sync commit (503), which records
 * nothing; the file is let go of, so close has nothing to sync. If no further sync commit comes
 * (the end of a burst, the leader stopping), nothing ever makes those LSNs durable: the mark stays
 * behind acknowledged commits, with no bound, and the store closes without an error — the very
 * case (after the last ack of a burst) the branch set out to bound. A transient EIO/ENOSPC is
 * enough. Repair could be a synced rename of the whole mark at the highest LSN written, by the
 * failing timer task (retry), by the next call before it reports, or at the latest by close.
 */
class SyncAckedMarkFailedSyncReviewTest {
    @TempDir
    Path tmp;

    private static final class ManualDelay implements WalMarks.Delay {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void after(long millis, Runnable task) {
            tasks.add(task);
        }

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
    void lsnsWhoseDelayedSyncFailedAreMadeDurableByCloseAtTheLatest() {
        ManualDelay delay = new ManualDelay();
        int[] calls = {0};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (calls[0]++ == 0) {
                throw new IOException("Input/output error"); // transient: every later sync succeeds
            }
        });
        marks.setSyncAcked(1); // renamed into place, synced
        marks.setSyncAcked(2); // in place: this commit is answered 200, a sync promised within 50 ms
        delay.runDue(); // that sync fails (logged, kept for the next caller)
        // (ackmark2: the failed sync was repaired at once by a synced rename of the whole mark, so the
        // next commit records its LSN and is answered 200; it answers 503 only if its own rewrite
        // fails too: SyncAckedMarkBoundedLagTest)
        marks.setSyncAcked(3);
        // no further sync commit: the burst is over, the leader stops
        delay.runDue();
        try {
            marks.close();
        } catch (UncheckedIOException e) {
            return; // telling the closer would at least be something
        }
        assertTrue(marks.syncAckedDurableLsn() >= 2, "LSN 2 was acknowledged and answered 200 as recorded, its sync"
                + " failed once (transiently), and the store closed without an error with marks/sync-acked synced only up to "
                + marks.syncAckedDurableLsn() + ": nothing retried, a power loss now may leave the mark behind an"
                + " acknowledged commit indefinitely");
    }
}
