package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch ackmark2: while the rewrite of a failed mark keeps failing, the timer's retry
 * backs off up to {@link WalMarks#SYNC_ACKED_RETRY_MAX_MILLIS} (1 s). When a commit's own rewrite
 * then succeeds (the disk is back), that pending retry still counts as "a sync is scheduled", so
 * the in-place writes after it are synced only when the retry comes, up to 1 s later, not about
 * {@link WalMarks#SYNC_ACKED_MAX_LAG_MILLIS} after them as docs/OPERATIONS.md ("Rejoin") says for a
 * disk that does not hang. A power loss in that while leaves the mark behind by up to a second of
 * acknowledgements.
 */
class SyncAckedMarkRetryLagReviewTest {
    @TempDir
    Path tmp;

    private static final class ManualDelay implements WalMarks.Delay {
        final List<Runnable> tasks = new ArrayList<>();
        final List<Long> delays = new ArrayList<>();

        @Override
        public synchronized void after(long millis, Runnable task) {
            tasks.add(task);
            delays.add(millis);
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
    void afterTheDiskIsBackAnInPlaceWriteIsSyncedAboutTheLagLaterNotAtTheRetrysBackoff() throws Exception {
        ManualDelay delay = new ManualDelay();
        boolean[] fail = {true};
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            if (fail[0]) {
                throw new IOException("Input/output error");
            }
        });
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        // the rewrite fails too: a directory with content where its temporary file goes
        Path t = tmp.resolve(WalMarks.DIR_NAME).resolve("sync-acked.tmp");
        Files.createDirectories(t);
        Files.writeString(t.resolve("in-the-way"), "x");
        for (int i = 0; i < 8; i++) {
            delay.runDue(); // the sync, then the retries, fail and back off
        }
        assertEquals(WalMarks.SYNC_ACKED_RETRY_MAX_MILLIS, delay.delays.get(delay.delays.size() - 1), delay.delays.toString());
        // the disk is back: the next commit's own rewrite succeeds, the mark is open again
        Files.delete(t.resolve("in-the-way"));
        Files.delete(t);
        fail[0] = false;
        marks.setSyncAcked(3);
        assertEquals(3, marks.syncAckedDurableLsn());
        int before = delay.delays.size();
        marks.setSyncAcked(4); // in place, unsynced
        List<Long> after = delay.delays.subList(before, delay.delays.size());
        assertTrue(!after.isEmpty() && after.get(0) <= WalMarks.SYNC_ACKED_MAX_LAG_MILLIS,
                "the in-place write of LSN 4 gets no sync of its own: it waits for the retry scheduled "
                        + WalMarks.SYNC_ACKED_RETRY_MAX_MILLIS + " ms out before the disk came back (delays " + delay.delays
                        + "), not about " + WalMarks.SYNC_ACKED_MAX_LAG_MILLIS + " ms");
        delay.runDue();
        marks.close();
    }
}
