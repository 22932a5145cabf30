package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sync of marks/sync-acked that hangs (a dead disk): the store holds one sync, no more, however
 * many acks come; close gives up on it after its bound (1 s with the test constructor) and says so;
 * and that sync, when it returns at last, is not taken as having made the mark durable.
 */
class SyncAckedMarkHungSyncTest {
    @TempDir
    Path tmp;

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

    @Test
    void aHungSyncHoldsOneThreadAndCloseGivesUpOnItWithoutCountingItsLateReturn() throws Exception {
        ManualDelay delay = new ManualDelay();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        WalMarks marks = new WalMarks(tmp, delay, f -> {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        marks.setSyncAcked(1);
        marks.setSyncAcked(2);
        List<Runnable> due = delay.take();
        assertEquals(1, due.size());
        Thread syncer = new Thread(() -> due.forEach(Runnable::run), "syncer");
        syncer.setDaemon(true);
        syncer.start();
        try {
            assertTrue(entered.await(30, TimeUnit.SECONDS));
            for (long lsn = 3; lsn <= 500; lsn++) {
                marks.setSyncAcked(lsn); // not held up by the hung sync
            }
            assertEquals(0, delay.take().size(), "no second sync of this store while one hangs");
            UncheckedIOException e = assertThrows(UncheckedIOException.class, marks::close,
                    "close gives up on the hung sync, and says the mark is not durable");
            assertTrue(e.getMessage().contains("did not return") && e.getMessage().contains(Lsn.format(500)), e.getMessage());
            assertEquals(1, marks.syncAckedDurableLsn());
        } finally {
            release.countDown();
        }
        syncer.join(30_000);
        assertFalse(syncer.isAlive());
        assertEquals(1, marks.syncAckedDurableLsn(), "the sync close gave up on counts for nothing when it returns");
        assertEquals(0, delay.take().size());
        marks.close(); // once
        assertEquals(OptionalLong.of(500), new WalMarks(tmp).syncAcked(), "written (page cache)");
    }
}
