package io.walship.wal;

import java.nio.file.Path;

import net.openhft.chronicle.core.time.TimeProvider;

/** Opens a store whose WAL cycle files follow a test clock (WalSeams is package-private): tests roll WAL files without waiting. */
public final class WalClockStores {
    private WalClockStores() {
    }

    public static Store open(Path dir, TimeProvider walTime) {
        return Store.open(dir, StoreOptions.defaults(), WalSeams.defaults().withWalTime(walTime));
    }
}
