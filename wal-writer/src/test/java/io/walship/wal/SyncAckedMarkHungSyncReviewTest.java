package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of branch ackmark: the delayed and the final {@code fdatasync} of marks/sync-acked on a
 * disk whose syncs hang (a dead disk, a hung NFS/iSCSI device). Before the branch
 * {@link WalMarks#close} only closed the file; now it waits for a running delayed sync (it takes
 * {@code forceLock}) and syncs itself, both with no bound. At the Store level this is mostly masked:
 * {@code Store.close}'s final checkpoint fsyncs the page file with no bound first, so a close on a
 * hung disk usually hangs there already (pre-existing); the new waits matter where the checkpoint
 * has nothing to write, and they defeat {@code Store.shutDownFiles}' "close without them" intent
 * (30 s for the WAL threads, then release LOCK). The delayed syncs of every store in the process
 * also share one thread, so one store's hung sync silently stops the others' (no error, no bound).
 * A sync the test holds stands for the hung one (a latch, released at the end).
 */
class SyncAckedMarkHungSyncReviewTest {
    @TempDir
    Path tmp;

    /** Generous for a loaded 2-core machine, yet far below "never". */
    private static final Duration BOUND = Duration.ofSeconds(10);

    /** A timer the test runs by hand. */
    private static final class ManualDelay implements WalMarks.Delay {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void after(long millis, Runnable task) {
            tasks.add(task);
        }

        synchronized List<Runnable> take() {
            List<Runnable> due = new ArrayList<>(tasks);
            tasks.clear();
            return due;
        }
    }

    /** An fdatasync that hangs until released (a dead disk); says when one has started. */
    private static final class HungForcer implements WalMarks.Forcer {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void force(java.io.RandomAccessFile file) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Thread start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    @Test
    void closeDoesNotWaitWithoutBoundForADelayedSyncThatHangs() throws Exception {
        ManualDelay delay = new ManualDelay();
        HungForcer forcer = new HungForcer();
        WalMarks marks = new WalMarks(tmp, delay, forcer);
        marks.setSyncAcked(1); // renamed into place, synced
        marks.setSyncAcked(2); // in place: schedules the delayed sync
        List<Runnable> due = delay.take();
        Thread syncer = start("syncer", () -> due.forEach(Runnable::run));
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
}
