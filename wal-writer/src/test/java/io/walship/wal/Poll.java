package io.walship.wal;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Waits for a condition with a deadline instead of sleeping and hoping. */
public final class Poll {
    private Poll() {
    }

    /** Polls {@code condition} until it holds; fails with {@code what} (evaluated then) after {@code timeout}. */
    public static void until(Duration timeout, BooleanSupplier condition, Supplier<String> what) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long park = 1_000_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + timeout + ": " + what.get());
            }
            LockSupport.parkNanos(park);
            park = Math.min(park * 2, 50_000_000);
        }
    }
}
