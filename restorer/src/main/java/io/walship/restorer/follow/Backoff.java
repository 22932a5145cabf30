package io.walship.restorer.follow;

import java.time.Duration;
import java.util.Random;

/**
 * How long to wait before the next attempt to reach the leader: exponential from {@code min},
 * capped at {@code max}, with "equal jitter" (half the step fixed, half random) from a seeded
 * random source so that a test can replay it and followers of one leader do not reconnect in step.
 * {@link #reset} after a session that worked. Not thread-safe.
 */
public final class Backoff {
    private final long minNanos;
    private final long maxNanos;
    private final Random random;
    private int attempt;

    public Backoff(Duration min, Duration max, long seed) {
        if (min.isNegative() || min.isZero() || max.compareTo(min) < 0) {
            throw new IllegalArgumentException("backoff needs 0 < min <= max, got " + min + " and " + max);
        }
        this.minNanos = min.toNanos();
        this.maxNanos = max.toNanos();
        this.random = new Random(seed);
    }

    /** The next wait: min·2^attempt capped at max, of which a random half is jitter. */
    public Duration next() {
        long step = minNanos << Math.min(attempt, 30);
        if (step <= 0 || step > maxNanos) {
            step = maxNanos;
        }
        attempt++;
        long half = step / 2;
        return Duration.ofNanos(half + (half == 0 ? 0 : (long) (random.nextDouble() * half)));
    }

    /** The last attempt worked: start again from {@code min}. */
    public void reset() {
        attempt = 0;
    }
}
