package io.walship.wal;

import java.util.Objects;
import java.util.function.Supplier;

import net.openhft.chronicle.core.time.TimeProvider;

/**
 * What the store asks of its surroundings on the WAL path, in one place so that tests can stand
 * in for each: how WAL files are synced ({@link WalSync}), how WAL disk space is claimed
 * ({@link WalSpace}), the clock that picks Chronicle's cycle files (tests roll files without
 * waiting) and the largest WAL entry a commit may produce. Immutable.
 */
record WalSeams(WalSync sync, Supplier<WalSpace> space, TimeProvider walTime, int maxEntryBytes) {
    WalSeams {
        Objects.requireNonNull(sync, "sync");
        Objects.requireNonNull(space, "space");
        if (maxEntryBytes <= 0) {
            throw new IllegalArgumentException("maxEntryBytes must be positive: " + maxEntryBytes);
        }
    }

    static WalSeams defaults() {
        return new WalSeams(WalSync.SYSTEM, Preallocator::new, null, WriteBatch.MAX_ENTRY_BYTES);
    }

    WalSeams withSync(WalSync s) {
        return new WalSeams(s, space, walTime, maxEntryBytes);
    }

    WalSeams withSpace(Supplier<WalSpace> s) {
        return new WalSeams(sync, s, walTime, maxEntryBytes);
    }

    WalSeams withWalTime(TimeProvider t) {
        return new WalSeams(sync, space, t, maxEntryBytes);
    }

    WalSeams withMaxEntryBytes(int bytes) {
        return new WalSeams(sync, space, walTime, bytes);
    }
}
