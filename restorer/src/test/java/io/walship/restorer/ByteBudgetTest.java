package io.walship.restorer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.junit.jupiter.api.Test;

/** The segment prefetcher's byte budget: granted in plan order, within the total, never stuck on a large request. */
class ByteBudgetTest {
    @Test
    void grantsInTurnOrderWithinTheTotal() throws Exception {
        SegmentPrefetcher.ByteBudget b = new SegmentPrefetcher.ByteBudget(16);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            assertEquals(10, b.acquire(0, 10));
            // turn 2 fits, but turn 1 has not been served: it waits
            CompletableFuture<Long> two = CompletableFuture.supplyAsync(() -> acquire(b, 2, 1), pool);
            assertThrows(TimeoutException.class, () -> two.get(200, TimeUnit.MILLISECONDS));
            // turn 1 does not fit beside turn 0's 10 bytes: it waits for them
            CompletableFuture<Long> one = CompletableFuture.supplyAsync(() -> acquire(b, 1, 10), pool);
            assertThrows(TimeoutException.class, () -> one.get(200, TimeUnit.MILLISECONDS));
            assertFalse(two.isDone());
            b.release(10);
            assertEquals(10L, one.get(30, TimeUnit.SECONDS));
            assertEquals(1L, two.get(30, TimeUnit.SECONDS));
            assertEquals(11, b.used());
            b.release(11);
            // a request larger than the whole budget is cut to it, instead of waiting forever
            assertEquals(16, b.acquire(3, 1000));
            b.release(16);
            // a turn whose task failed before asking lets the next ones through
            b.pass(4);
            assertEquals(5, b.acquire(5, 5));
        } finally {
            pool.shutdownNow();
        }
    }

    private static long acquire(SegmentPrefetcher.ByteBudget b, long turn, long bytes) {
        try {
            return b.acquire(turn, bytes);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
