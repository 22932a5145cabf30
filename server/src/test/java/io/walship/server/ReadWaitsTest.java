package io.walship.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

/** The bound on reads parked for an LSN, and on the answers they turn into once woken. */
class ReadWaitsTest {
    private static final long LONG = TimeUnit.MINUTES.toNanos(10);

    /**
     * A woken read is answered on one of a few threads; an answer can take long (a big scan to a
     * slow client). Reads woken meanwhile must still count against the bound until they are
     * answered: otherwise the queue of answers in front of those threads grows without limit (each
     * holding an HTTP exchange and its socket) while new reads keep being parked.
     */
    @Test
    void wokenReadsWaitingForAnAnswerThreadStillCountAgainstTheBound() throws Exception {
        AtomicLong applied = new AtomicLong(0);
        ReadWaits waits = new ReadWaits(2, 1, applied::get);
        CountDownLatch answering = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicInteger answered = new AtomicInteger();
        Runnable slow = () -> {
            answering.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            answered.incrementAndGet();
        };
        try {
            assertTrue(waits.await(5, LONG, slow, () -> { }));
            applied.set(5);
            waits.applied(5); // the one answer thread now answers it, slowly
            assertTrue(answering.await(30, TimeUnit.SECONDS));
            assertTrue(waits.await(6, LONG, answered::incrementAndGet, () -> { }));
            applied.set(6);
            waits.applied(6); // woken, but queued behind the slow answer
            // two reads are still in the node's hands (one answering, one queued): the bound is 2
            assertEquals(2, waits.waiting());
            assertFalse(waits.await(7, LONG, answered::incrementAndGet, () -> { }),
                    "a third read must be refused while two are not answered yet");
            release.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (waits.waiting() > 0) {
                assertTrue(System.nanoTime() < deadline, "the answers did not finish");
                Thread.onSpinWait();
            }
            assertEquals(2, answered.get());
            assertTrue(waits.await(8, LONG, () -> { }, () -> { }), "room again once answered");
        } finally {
            release.countDown();
            waits.close();
        }
    }
}
