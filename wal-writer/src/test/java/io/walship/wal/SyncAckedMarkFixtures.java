package io.walship.wal;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * What the tests of marks/sync-acked's delayed sync inject into {@link WalMarks}: a timer run by
 * hand, an fdatasync that fails or hangs, a rewrite of the whole mark that fails.
 */
final class SyncAckedMarkFixtures {
    /** Generous for a loaded 2-core machine (close's own bound is 1 s with the test constructor), yet far below "never". */
    static final Duration BOUND = Duration.ofSeconds(10);

    private SyncAckedMarkFixtures() {
    }

    /** A timer the test runs by hand: what was scheduled, and after how long. */
    static final class ManualDelay implements WalMarks.Delay {
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

        /** Takes the tasks scheduled so far, for the test to run (on a thread of its own). */
        synchronized List<Runnable> take() {
            List<Runnable> due = new ArrayList<>(tasks);
            tasks.clear();
            return due;
        }

        /** Runs the tasks scheduled so far (as the timer thread would, later). */
        void runDue() {
            take().forEach(Runnable::run);
        }

        /** Runs them as a worker of the shared pool would: a task ending in an Error just ends that thread, nobody is told. */
        void runDueSwallowingErrors() {
            for (Runnable r : take()) {
                try {
                    r.run();
                } catch (Error e) {
                    // the worker thread ends
                }
            }
        }
    }

    /** An fdatasync that fails with EIO while {@code failing[0]} holds, and succeeds otherwise. */
    static WalMarks.Forcer eioWhile(boolean[] failing) {
        return f -> {
            if (failing[0]) {
                throw new IOException("Input/output error");
            }
        };
    }

    /** An fdatasync that always fails with EIO. */
    static WalMarks.Forcer alwaysEio() {
        return eioWhile(new boolean[] {true});
    }

    /** An fdatasync that hangs until released (a dead disk); says when one has started. */
    static final class HungForcer implements WalMarks.Forcer {
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public void force(RandomAccessFile file) {
            entered.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Starts a daemon thread (one left hanging by a failed test must not keep the JVM up). */
    static Thread start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The temporary file of a rewrite of the whole mark (a synced rename). */
    static Path rewriteTmp(Path dataDir) {
        return dataDir.resolve(WalMarks.DIR_NAME).resolve("sync-acked.tmp");
    }

    /** Makes the synced rename of the whole mark fail (a non-empty directory where its temporary file goes). */
    static Path blockRename(Path dataDir) throws IOException {
        Path t = rewriteTmp(dataDir);
        Files.createDirectories(t);
        Files.writeString(t.resolve("in-the-way"), "x");
        return t;
    }

    /** Undoes {@link #blockRename}: the disk is back. */
    static void unblockRename(Path t) throws IOException {
        Files.delete(t.resolve("in-the-way"));
        Files.delete(t);
    }
}
