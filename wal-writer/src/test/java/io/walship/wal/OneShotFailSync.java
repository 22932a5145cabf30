package io.walship.wal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Syncs for real through a {@link TestSync} (whose gate can stall every sync); the
 * {@code failAt}-th file sync from arming fails once (one EIO, as the kernel reports it once), and
 * every sync call after that failure, on any thread, is recorded: after a failed fdatasync nothing
 * may be synced "successfully" again. {@code entered} is counted down by every file sync that
 * starts while it is set; {@link #beforeSync} lets a subclass slow the syncs down.
 */
class OneShotFailSync implements WalSync {
    final TestSync sync = new TestSync();
    final AtomicLong failAt = new AtomicLong(Long.MAX_VALUE);
    final AtomicLong calls = new AtomicLong();
    volatile boolean failed;
    final List<String> afterFailure = new CopyOnWriteArrayList<>();
    volatile String failedOn;
    volatile CountDownLatch entered;
    /** "THREAD FILE" of every file sync, in order. */
    final List<String> forced = new CopyOnWriteArrayList<>();

    /** Runs before each file sync that is not the injected failure; nothing by default. */
    void beforeSync() {
    }

    @Override
    public void force(Path file, FileChannel channel, long upTo) throws IOException {
        CountDownLatch e = entered;
        if (e != null) {
            e.countDown();
        }
        if (failed) {
            afterFailure.add(Thread.currentThread().getName() + " force " + file.getFileName());
        }
        forced.add(Thread.currentThread().getName() + " " + file.getFileName());
        if (calls.incrementAndGet() == failAt.get()) {
            failed = true;
            failedOn = Thread.currentThread().getName();
            throw new IOException("injected one-shot EIO");
        }
        beforeSync();
        sync.force(file, channel, upTo);
    }

    @Override
    public void forceDirectory(Path dir) throws IOException {
        if (failed) {
            afterFailure.add(Thread.currentThread().getName() + " forceDirectory");
        }
        sync.forceDirectory(dir);
    }
}
