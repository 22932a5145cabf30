package io.walship.wal;

import net.openhft.chronicle.core.time.SystemTimeProvider;
import net.openhft.chronicle.core.time.TimeProvider;

/**
 * The clock of the writer's queue, from which Chronicle picks the cycle file an append goes to.
 * The writer pins it for the length of one append, so that the cycle it checked (and prepared
 * disk space for) is the cycle Chronicle writes to, even when the hour turns in between. Pinned
 * times never go backwards. Thread-safe (other threads read it while it is pinned).
 */
final class WalClock implements TimeProvider {
    private static final long UNPINNED = Long.MIN_VALUE;
    private final TimeProvider source;
    private volatile long pinned = UNPINNED;
    private long lastPinned = UNPINNED; // writer thread only

    WalClock(TimeProvider source) {
        this.source = source == null ? SystemTimeProvider.INSTANCE : source;
    }

    /** Pins the time for one append (writer thread); returns it in milliseconds. */
    long pin() {
        long now = Math.max(source.currentTimeMillis(), lastPinned);
        lastPinned = now;
        pinned = now;
        return now;
    }

    void unpin() {
        pinned = UNPINNED;
    }

    @Override
    public long currentTimeMillis() {
        long p = pinned;
        return p != UNPINNED ? p : source.currentTimeMillis();
    }

    @Override
    public long currentTimeMicros() {
        long p = pinned;
        return p != UNPINNED ? p * 1_000 : source.currentTimeMicros();
    }

    @Override
    public long currentTimeNanos() {
        long p = pinned;
        return p != UNPINNED ? p * 1_000_000 : source.currentTimeNanos();
    }
}
