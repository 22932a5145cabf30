package io.walship.wal;

import static io.walship.wal.SyncAckedMarkFixtures.BOUND;
import static io.walship.wal.SyncAckedMarkFixtures.rewriteTmp;
import static io.walship.wal.SyncAckedMarkFixtures.start;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.walship.wal.SyncAckedMarkFixtures.HungForcer;
import io.walship.wal.SyncAckedMarkFixtures.ManualDelay;

/**
 * marks/sync-acked on a disk whose syncs hang (a dead disk, a hung NFS/iSCSI device): the store
 * holds one sync, no more, however many acks come; close gives up on it after its bound (1 s with
 * the test constructor) and says so; one store's hung sync does not stop another's. A sync the test
 * holds ({@link HungForcer}, released at the end) stands for the hung one. Most tests first showed a
 * fault found in review of the sync-acked branches (they failed before the fix named in their
 * javadoc); one shows a known limit and stays disabled.
 */
class SyncAckedMarkHungDiskTest {
    @TempDir
    Path tmp;

    /** Starts the delayed sync scheduled so far on a thread of its own ("syncer"), where it may hang. */
    private static Thread syncInBackground(ManualDelay delay) {
        List<Runnable> due = delay.take();
        return start("syncer", () -> due.forEach(Runnable::run));
    }

    /**
     * (was SyncAckedMarkHungSyncTest, added with the fix of review25) A sync that hangs: the store
     * holds one sync, no more, however many acks come; close gives up on it after its bound and says
     * so; and that sync, when it returns at last, is not taken as having made the mark durable.
     */
    @Test
    void aHungSyncHoldsOneThreadAndCloseGivesUpOnItWithoutCountingItsLateReturn() throws Exception {
        ManualDelay delay = new ManualDelay();
        HungForcer forcer = new HungForcer();
        WalMarks marks = new WalMarks(tmp, delay, forcer);
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        assertEquals(1, delay.pending());
        Thread syncer = syncInBackground(delay);
        try {
            assertTrue(forcer.entered.await(30, TimeUnit.SECONDS));
            for (long lsn = 3; lsn <= 500; lsn++) {
                marks.setSyncAcked(lsn); // not held up by the hung sync
            }
            assertEquals(0, delay.take().size(), "no second sync of this store while one hangs");
            UncheckedIOException e = assertThrows(UncheckedIOException.class, marks::close,
                    "close gives up on the hung sync, and says the mark is not durable");
            assertTrue(e.getMessage().contains("did not return") && e.getMessage().contains(Lsn.format(500)), e.getMessage());
            assertEquals(1, marks.syncAckedDurableLsn());
        } finally {
            forcer.release.countDown();
        }
        syncer.join(30_000);
        assertFalse(syncer.isAlive());
        assertEquals(1, marks.syncAckedDurableLsn(), "the sync close gave up on counts for nothing when it returns");
        assertEquals(0, delay.take().size());
        marks.close(); // once
        assertEquals(OptionalLong.of(500), new WalMarks(tmp).syncAcked(), "written (page cache)");
    }

    /*
     * Review25 (branch ackmark; the next three were SyncAckedMarkHungSyncReviewTest): the delayed and
     * the final fdatasync of marks/sync-acked on a disk whose syncs hang. Before the branch
     * WalMarks.close only closed the file; the branch made it wait for a running delayed sync (it
     * took forceLock) and sync itself, both with no bound. At the Store level this is mostly masked:
     * Store.close's final checkpoint fsyncs the page file with no bound first, so a close on a hung
     * disk usually hangs there already (pre-existing); the new waits mattered where the checkpoint
     * had nothing to write, and they defeated Store.shutDownFiles' "close without them" intent (30 s
     * for the WAL threads, then release LOCK). The delayed syncs of every store in the process also
     * shared one thread, so one store's hung sync silently stopped the others' (no error, no bound).
     * Fixed by close waiting 30 s at most in all (then logging, throwing, and not counting the late
     * sync) and by syncs on worker threads, at most one per store.
     */

    /** Review25: WalMarks.close waited with no bound for a running delayed sync that hangs. */
    @Test
    void closeDoesNotWaitWithoutBoundForADelayedSyncThatHangs() throws Exception {
        ManualDelay delay = new ManualDelay();
        HungForcer forcer = new HungForcer();
        WalMarks marks = new WalMarks(tmp, delay, forcer);
        marks.setSyncAcked(1); // renamed into place, synced
        marks.setSyncAcked(2); // in place: schedules the delayed sync
        Thread syncer = syncInBackground(delay);
        Thread closer = null;
        try {
            assertTrue(forcer.entered.await(BOUND.toMillis(), TimeUnit.MILLISECONDS), "the delayed sync started");
            closer = start("closer", marks::close);
            closer.join(BOUND.toMillis());
            assertFalse(closer.isAlive(), "WalMarks.close still waits, after " + BOUND.toSeconds() + " s, for a delayed sync of marks/sync-acked that hangs");
        } finally {
            forcer.release.countDown();
            syncer.join(BOUND.toMillis());
            if (closer != null) {
                closer.join(BOUND.toMillis());
            }
        }
    }

    /** Review25: WalMarks.close waited with no bound on its own final sync when the disk hangs. */
    @Test
    void closeDoesNotHangOnItsOwnFinalSyncWhenTheDiskHangs() throws Exception {
        ManualDelay delay = new ManualDelay(); // the timer never ran: the last write is unsynced
        HungForcer forcer = new HungForcer();
        WalMarks marks = new WalMarks(tmp, delay, forcer);
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        Thread closer = start("closer", marks::close);
        try {
            closer.join(BOUND.toMillis());
            assertFalse(closer.isAlive(), "WalMarks.close still waits, after " + BOUND.toSeconds() + " s, on its final"
                    + " sync of marks/sync-acked on a disk whose syncs hang (before the branch it only closed the file)");
        } finally {
            forcer.release.countDown();
            closer.join(BOUND.toMillis());
        }
    }

    /** Review25: the delayed syncs of every store shared one thread, so one store's hung sync stopped the others'. */
    @Test
    void aHungSyncOfOneStoresMarkDoesNotStopTheDelayedSyncsOfAnother() throws Exception {
        // the process-wide timer every WalMarks(Path) uses (SharedDelay::after)
        Field f = WalMarks.class.getDeclaredField("delay");
        f.setAccessible(true);
        WalMarks.Delay shared = (WalMarks.Delay) f.get(new WalMarks(tmp.resolve("probe")));

        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        HungForcer hung = new HungForcer();
        WalMarks onHungDisk = new WalMarks(a, shared, hung);
        WalMarks healthy = new WalMarks(b); // its own disk, healthy
        try {
            onHungDisk.setSyncAcked(1);
            onHungDisk.setSyncAcked(2); // its delayed sync runs on the shared thread, and hangs there
            assertTrue(hung.entered.await(BOUND.toMillis(), TimeUnit.MILLISECONDS), "the hung store's sync started");

            healthy.setSyncAcked(1);
            healthy.setSyncAcked(2); // due 50 ms later
            Poll.until(BOUND, () -> healthy.syncAckedDurableLsn() == 2,
                    () -> "a healthy store's marks/sync-acked is still unsynced (durable up to "
                            + healthy.syncAckedDurableLsn() + " of 2) " + BOUND.toSeconds() + " s after its last ack:"
                            + " its delayed sync waits behind another store's hung sync on the one shared thread,"
                            + " with no error anywhere");
        } finally {
            hung.release.countDown();
            healthy.close();
            onHungDisk.close();
        }
    }

    private static boolean inRewrite(Thread t) {
        for (StackTraceElement e : t.getStackTrace()) {
            if (e.getClassName().equals(AtomicFiles.class.getName()) && e.getMethodName().equals("write")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Review28 (branch ackmark2; was SyncAckedMarkHungRepairReviewTest): the repair of a failed
     * delayed sync (the whole mark rewritten by a synced rename) runs on the sync worker <em>under
     * the instance's lock</em> ({@code forceSyncAcked} -> {@code repairSyncAcked} ->
     * {@code renameSyncAcked} -> {@code AtomicFiles.write}: create, write, fsync a temporary file,
     * rename, fsync the directory). On a disk whose first fdatasync failed and whose next ones hang
     * (a dying disk, a hung NFS/iSCSI device: the case the branch bounds close for), that lock is
     * held with no bound, and {@link WalMarks#close} takes it before any of its deadlines
     * ({@code closeSyncAcked}'s first {@code synchronized (this)}): close hangs, so
     * {@code Store.shutDownFiles} never releases LOCK, against the branch's "close waits 30 s at
     * most and still releases LOCK". Commits' {@code setSyncAcked} wait on the same lock too
     * (neither 200 nor 503). Not fixed: documented as a known limit (the reason below).
     *
     * <p>The hang is a FIFO where the rewrite's temporary file goes: opening it for writing blocks
     * (inside {@code AtomicFiles.write}, as a hung fsync would) until the test opens it for reading.
     */
    @Disabled("a known limit, documented in docs/OPERATIONS.md (\"Rejoin\") and docs/ARCHITECTURE.md: close's 30 s"
            + " bound covers a hung fdatasync of the mark, not a hung rewrite of the whole mark, which runs under the"
            + " WalMarks lock (a repair on the worker or a commit's); moving its slow steps out of the lock is not done")
    @Test
    void closeIsBoundedWhileTheRepairOfAFailedSyncHangsUnderTheLock() throws Exception {
        ManualDelay delay = new ManualDelay();
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            throw new IOException("Input/output error"); // the delayed fdatasync fails (EIO)
        });
        marks.setSyncAcked(1); // renamed into place, synced
        marks.setSyncAcked(2); // in place: schedules the delayed sync
        Path fifo = rewriteTmp(tmp);
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertTrue(mk.waitFor() == 0 && Files.exists(fifo), "mkfifo " + fifo);

        // the worker: its sync fails, and the synced rename that repairs it hangs (holding the lock)
        Thread syncer = syncInBackground(delay);
        AtomicReference<Throwable> closeOutcome = new AtomicReference<>();
        Thread closer = null;
        RandomAccessFile reader = null;
        try {
            Poll.until(BOUND, () -> inRewrite(syncer), () -> "the repair's rewrite did not start");
            closer = start("closer", () -> {
                try {
                    marks.close();
                    closeOutcome.set(new AssertionError("returned normally"));
                } catch (Throwable e) {
                    closeOutcome.set(e);
                }
            });
            closer.join(BOUND.toMillis());
            assertFalse(closer.isAlive(), "WalMarks.close still waits, after " + BOUND.toSeconds() + " s (its bound: 1 s),"
                    + " for the instance's lock, held by the worker's rewrite of marks/sync-acked that repairs a failed"
                    + " sync and hangs; Store.close would never release LOCK. closer's state: " + closer.getState());
        } finally {
            // a reader (O_RDWR: also keeps later opens of the FIFO from blocking): the hung open returns,
            // and the fsync of a FIFO fails, so that rewrite fails and gives the lock back
            reader = new RandomAccessFile(fifo.toFile(), "rw");
            syncer.join(BOUND.toMillis());
            if (closer != null) {
                closer.join(BOUND.toMillis());
            }
            reader.close();
            Files.deleteIfExists(fifo);
        }
    }
}
