package io.walship.archive;

/**
 * The two clocks a lease needs: wall time (microseconds since the epoch) for the expiry written
 * into the lease, which other nodes compare with their own wall clocks (within the skew margin),
 * and a monotonic clock (nanoseconds) for the holder's own deadline, which no wall-clock step can
 * move. Tests inject a manual one; nothing in the lease sleeps.
 */
public interface LeaseClock {
    LeaseClock SYSTEM = new LeaseClock() {
        @Override
        public long wallMicros() {
            java.time.Instant now = java.time.Instant.now();
            return now.getEpochSecond() * 1_000_000L + now.getNano() / 1_000;
        }

        @Override
        public long nanoTime() {
            return System.nanoTime();
        }
    };

    long wallMicros();

    long nanoTime();
}
