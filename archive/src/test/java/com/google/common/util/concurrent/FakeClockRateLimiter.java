package com.google.common.util.concurrent;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Guava's {@link RateLimiter} on a fake clock, for tests of the upload limit that must not sleep or
 * time anything: "sleeping" advances the clock. Guava's own tests do the same; the factory that takes
 * a stopwatch is package-private, hence this class's package (test code only).
 */
public final class FakeClockRateLimiter {
    private FakeClockRateLimiter() {
    }

    /** A fake clock: micros since start; {@link #sleptMicros} is the total time the limiter waited. */
    public static final class Clock extends RateLimiter.SleepingStopwatch {
        private final AtomicLong now = new AtomicLong();
        private final AtomicLong slept = new AtomicLong();

        @Override
        protected long readMicros() {
            return now.get();
        }

        @Override
        protected void sleepMicrosUninterruptibly(long micros) {
            if (micros > 0) {
                now.addAndGet(micros);
                slept.addAndGet(micros);
            }
        }

        /** Time passing without anyone waiting (idle). */
        public void advanceMicros(long micros) {
            now.addAndGet(micros);
        }

        public long sleptMicros() {
            return slept.get();
        }

        public long nowMicros() {
            return now.get();
        }
    }

    public static RateLimiter create(double permitsPerSecond, Clock clock) {
        return RateLimiter.create(permitsPerSecond, clock);
    }
}
