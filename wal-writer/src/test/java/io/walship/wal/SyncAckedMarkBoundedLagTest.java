package io.walship.wal;

import static io.walship.wal.SyncAckedMarkFixtures.alwaysEio;
import static io.walship.wal.SyncAckedMarkFixtures.blockRename;
import static io.walship.wal.SyncAckedMarkFixtures.eioWhile;
import static io.walship.wal.SyncAckedMarkFixtures.unblockRename;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.walship.wal.SyncAckedMarkFixtures.ManualDelay;

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
    void aFailedSyncIsRepairedAtOnceByASyncedRenameOfTheWholeMark() {
        ManualDelay delay = new ManualDelay();
        boolean[] fail = {true};
        WalMarks marks = new WalMarks(tmp, delay, eioWhile(fail));
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        delay.runDue(); // fails (logged at ERROR): the file is let go of, the mark renamed whole, synced
        assertEquals(2, marks.syncAckedDurableLsn(), "the LSN whose sync failed is durable after all");
        assertEquals(OptionalLong.of(2), new WalMarks(tmp).syncAcked());
        assertEquals(0, delay.pending(), "nothing left to do");
        fail[0] = false;
        marks.setSyncAcked(3); // the next commit: answered (no failure to report), in place again
        assertEquals(1, delay.pending());
        delay.runDue();
        assertEquals(3, marks.syncAckedDurableLsn());
        marks.close();
        assertEquals(OptionalLong.of(3), new WalMarks(tmp).syncAcked());
    }

    @Test
    void whileTheRewriteFailsTooTheTimerRetriesItAndEachAckTriesItAndAnswers503() throws Exception {
        ManualDelay delay = new ManualDelay();
        WalMarks marks = new WalMarks(tmp, delay, alwaysEio());
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        Path blocked = blockRename(tmp);
        delay.runDue(); // the sync fails, and the rewrite of the whole mark too
        assertEquals(1, marks.syncAckedDurableLsn());
        assertEquals(1, delay.pending(), "a retry is scheduled");
        assertTrue(delay.delays.get(delay.delays.size() - 1) <= WalMarks.SYNC_ACKED_RETRY_MAX_MILLIS);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> marks.setSyncAcked(3),
                "the next commit's own rewrite fails: 503");
        assertTrue(e.getMessage().contains("sync-acked"), e.getMessage());
        for (int i = 0; i < 8; i++) {
            delay.runDue(); // the retries fail, and back off
            assertEquals(1, delay.pending(), "retried again");
        }
        assertTrue(delay.delays.subList(1, delay.delays.size()).stream()
                .allMatch(d -> d >= WalMarks.SYNC_ACKED_MAX_LAG_MILLIS && d <= WalMarks.SYNC_ACKED_RETRY_MAX_MILLIS),
                "backoff between the tick and its bound: " + delay.delays);
        assertEquals(WalMarks.SYNC_ACKED_RETRY_MAX_MILLIS, delay.delays.get(delay.delays.size() - 1), delay.delays.toString());
        assertEquals(1, marks.syncAckedDurableLsn());
        unblockRename(blocked);
        delay.runDue(); // the retry succeeds: at the highest LSN written (3 was never written)
        assertEquals(2, marks.syncAckedDurableLsn());
        assertEquals(OptionalLong.of(2), new WalMarks(tmp).syncAcked());
        assertEquals(0, delay.pending());
        marks.close(); // nothing left
    }

    @Test
    void anAckAfterAFailedRewriteMakesTheMarkDurableItselfWhenItCan() throws Exception {
        ManualDelay delay = new ManualDelay();
        WalMarks marks = new WalMarks(tmp, delay, alwaysEio());
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        Path blocked = blockRename(tmp);
        delay.runDue(); // sync and rewrite fail
        unblockRename(blocked);
        marks.setSyncAcked(4); // before the retry: its own rewrite succeeds, so no 503
        assertEquals(4, marks.syncAckedDurableLsn());
        assertEquals(OptionalLong.of(4), new WalMarks(tmp).syncAcked());
        delay.runDue(); // the retry finds nothing to do
        assertEquals(4, marks.syncAckedDurableLsn());
        marks.close();
    }

    @Test
    void closeRepairsAFailedSyncAndThrowsOnlyIfTheMarkCannotBeMadeDurable() throws Exception {
        ManualDelay delay = new ManualDelay();
        boolean[] fail = {false};
        WalMarks.Forcer forcer = f -> {
            if (fail[0]) {
                throw new IOException("No space left on device");
            }
        };
        WalMarks marks = new WalMarks(tmp, delay, forcer);
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        fail[0] = true;
        marks.close(); // the final sync fails, the rewrite of the whole mark does not
        assertEquals(2, marks.syncAckedDurableLsn());
        assertEquals(OptionalLong.of(2), new WalMarks(tmp).syncAcked());

        WalMarks other = new WalMarks(tmp, delay, forcer);
        fail[0] = false;
        other.setSyncAcked(3);
        other.setSyncAcked(4);
        fail[0] = true;
        Path blocked = blockRename(tmp);
        delay.runDue(); // the delayed sync and its rewrite fail, no ack after them
        UncheckedIOException e = assertThrows(UncheckedIOException.class, other::close,
                "close cannot make LSN 4 durable either: it says so");
        assertTrue(e.getMessage().contains("sync-acked") && e.getMessage().contains(Lsn.format(4)), e.getMessage());
        assertEquals(3, other.syncAckedDurableLsn());
        other.close(); // reported once
        unblockRename(blocked);
        delay.runDue(); // the timer after close: nothing
        assertEquals(3, other.syncAckedDurableLsn());
    }

    @Test
    void aSyncThatCannotBeScheduledIsA503AndTheNextAckSchedulesIt() {
        boolean[] reject = {true};
        ManualDelay manual = new ManualDelay();
        WalMarks.Delay delay = (millis, task) -> {
            if (reject[0]) {
                throw new java.util.concurrent.RejectedExecutionException("no timer");
            }
            manual.after(millis, task);
        };
        WalMarks marks = new WalMarks(tmp, delay, f -> { });
        marks.setSyncAcked(1);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> marks.setSyncAcked(2));
        assertTrue(e.getMessage().contains("schedule"), e.getMessage());
        reject[0] = false;
        marks.setSyncAcked(3); // not stuck: schedules it
        assertEquals(1, manual.pending());
        manual.runDue();
        assertEquals(3, marks.syncAckedDurableLsn());
        marks.close();
    }
}
