package io.walship.cli;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import java.util.function.Supplier;

/** Waits for a condition with a deadline instead of sleeping and hoping. */
final class Poll {
    private Poll() {
    }

    /**
     * Reads {@code value} until {@code ok} holds for it and returns that value; after
     * {@code timeout} fails with the last value read.
     */
    static <T> T until(Duration timeout, Supplier<T> value, Predicate<T> ok) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long park = 1_000_000;
        while (true) {
            T v = value.get();
            if (ok.test(v)) {
                return v;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout + "; last seen:\n" + v);
            }
            LockSupport.parkNanos(park);
            park = Math.min(park * 2, 100_000_000);
        }
    }
}
