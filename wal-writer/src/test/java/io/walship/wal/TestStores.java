package io.walship.wal;

import java.nio.file.Path;

import net.openhft.chronicle.core.time.TimeProvider;

/**
 * For tests in other modules (wal-writer's test-jar): opens a store whose WAL picks its cycle
 * files by {@code walTime}, so a test rolls WAL files (and so lets retention delete them) by
 * advancing a clock instead of waiting.
 */
public final class TestStores {
    private TestStores() {
    }

    public static Store open(Path dir, StoreOptions options, TimeProvider walTime) {
        return Store.open(dir, options, WalSeams.defaults().withWalTime(walTime));
    }
}
