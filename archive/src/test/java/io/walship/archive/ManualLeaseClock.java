package io.walship.archive;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A lease clock that moves only when told: both clocks advance together; the wall clock may be skewed. */
public final class ManualLeaseClock implements LeaseClock {
    private final AtomicLong wallMicros;
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    public ManualLeaseClock(long wallMicros) {
        this.wallMicros = new AtomicLong(wallMicros);
    }

    /** A clock at the same instants but whose wall clock reads {@code skew} ahead (negative: behind). */
    public LeaseClock skewed(Duration skew) {
        ManualLeaseClock parent = this;
        return new LeaseClock() {
            @Override
            public long wallMicros() {
                return parent.wallMicros() + skew.toNanos() / 1000;
            }

            @Override
            public long nanoTime() {
                return parent.nanoTime();
            }
        };
    }

    public void advance(Duration d) {
        wallMicros.addAndGet(d.toNanos() / 1000);
        nanos.addAndGet(d.toNanos());
    }

    @Override
    public long wallMicros() {
        return wallMicros.get();
    }

    @Override
    public long nanoTime() {
        return nanos.get();
    }
}
