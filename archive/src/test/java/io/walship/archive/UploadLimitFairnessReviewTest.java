package io.walship.archive;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

/**
 * Review of pin-rate fix 3d18d4a: two uploads share the limit (a base backup and the WAL shipper).
 * A waiter only gets permits when {@code tryAcquire} finds the bucket due within 100 ms, and it polls
 * every 100 ms; an upload that keeps the bucket busy (the base backup, reading its content faster than
 * the rate) re-reserves the instant it wakes, so the bucket is nearly always 100-200 ms ahead and the
 * poller almost never gets in: the WAL shipper starves for the whole base backup instead of sharing
 * the rate. Real time (a few seconds), but the margin is wide: a fair limiter lets the second upload
 * in after about two steps of the first; the test allows ten.
 */
class UploadLimitFairnessReviewTest {
    @Test
    void aSecondUploadIsNotStarvedByOneThatKeepsTheBucketBusy() throws Exception {
        long rate = 10 << 10; // 10 KiB/s: a step is a tenth of a second's worth
        UploadLimit limit = UploadLimit.of(rate);
        int step = (int) (rate / 10);
        AtomicInteger stepsOfA = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        Thread a = new Thread(() -> {
            try {
                for (int i = 0; i < 60 && !stop.get(); i++) { // at most ~6 s
                    limit.acquire(step);
                    stepsOfA.incrementAndGet();
                }
            } catch (java.io.InterruptedIOException e) {
                Thread.currentThread().interrupt();
            }
        }, "backup-upload");
        a.start();
        try {
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (stepsOfA.get() < 3 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertTrue(stepsOfA.get() >= 3, "setup: the first upload is under way");
            int before = stepsOfA.get();
            limit.acquire(step); // the WAL shipper's one step
            int during = stepsOfA.get() - before;
            stop.set(true);
            assertTrue(during <= 10, "the second upload waited while the first took " + during
                    + " steps (" + during * step + " bytes) of the shared rate");
        } finally {
            stop.set(true);
            a.join(30_000);
        }
    }
}
