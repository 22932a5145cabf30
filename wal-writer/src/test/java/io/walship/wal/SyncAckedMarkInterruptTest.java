package io.walship.wal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * marks/sync-acked is written by whichever HTTP thread answers an acknowledged commit
 * (LeaderNode.recordSyncAcked). The file kept open for the in-place write is shared by all of
 * them: a caller whose thread happens to carry an interrupt must neither lose its own mark nor
 * break the mark for every later commit (a FileChannel is interruptible: an interrupted write
 * closes the channel for everyone, and each later write would then fail with
 * ClosedChannelException until the store is reopened, failing every sync commit's answer).
 */
class SyncAckedMarkInterruptTest {
    @TempDir
    Path tmp;

    @Test
    void anInterruptedCallerNeitherFailsNorBreaksTheMarkForTheOthers() throws Exception {
        WalMarks marks = new WalMarks(tmp);
        marks.setSyncAcked(5); // the first write per open: renamed into place, kept open
        marks.setSyncAcked(6); // in place

        AtomicReference<Throwable> failed = new AtomicReference<>();
        Thread t = new Thread(() -> {
            Thread.currentThread().interrupt(); // e.g. a pool thread carrying an interrupt
            try {
                marks.setSyncAcked(7);
            } catch (Throwable e) {
                failed.set(e);
            }
        }, "interrupted-http-thread");
        t.start();
        t.join();
        assertEquals(null, failed.get(), "an interrupted caller's acknowledged LSN is still recorded");
        assertEquals(OptionalLong.of(7), new WalMarks(tmp).syncAcked());

        // the next commits, on other (not interrupted) threads, still record theirs
        for (long lsn = 8; lsn <= 20; lsn++) {
            marks.setSyncAcked(lsn);
        }
        assertEquals(OptionalLong.of(20), new WalMarks(tmp).syncAcked());
        marks.close();
    }

    @Test
    void aWriteThatFailsOnTheSharedFileDoesNotFailEveryLaterOne() throws Exception {
        WalMarks marks = new WalMarks(tmp);
        marks.setSyncAcked(5);
        Thread t = new Thread(() -> {
            Thread.currentThread().interrupt();
            try {
                marks.setSyncAcked(6);
            } catch (RuntimeException ignored) {
                // whether this one call may fail is the other test's business
            }
        });
        t.start();
        t.join();
        marks.setSyncAcked(9);
        assertEquals(OptionalLong.of(9), new WalMarks(tmp).syncAcked());
        marks.close();
    }
}
