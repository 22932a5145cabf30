package io.walship.wal;

import net.openhft.chronicle.core.time.SystemTimeProvider;
import net.openhft.chronicle.core.time.TimeProvider;

/**
 * The clock of the writer's queue, from which Chronicle picks the cycle file an append goes to.
 * The writer pins it for the length of one append, so that the cycle it checked (and prepared
 * disk space for) is the cycle Chronicle writes to, even when the hour turns in between. Pinned
 * times never go backwards, and never before the start of the WAL's last cycle file: a system
 * clock stepped back (across a restart, too) must not make the queue write an older cycle file
 * after a newer one, which readers would read out of LSN order. Thread-safe (other threads read
 * it while it is pinned).
 */
final class WalClock implements TimeProvider {
    private static final long UNPINNED = Long.MIN_VALUE;
    private final TimeProvider source;
    private volatile long pinned = UNPINNED;
    private long lastPinned = UNPINNED; // writer thread only

    WalClock(TimeProvider source) {
        this.source = source == null ? SystemTimeProvider.INSTANCE : source;
    }

    /** Pinned times will not be earlier than {@code millis} (writer thread, before appending). */
    void notBefore(long millis) {
        lastPinned = Math.max(lastPinned, millis);
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
