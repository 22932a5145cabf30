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

    /**
     * Opens a store whose claims of WAL disk space fail ("No space left on device") while
     * {@code full} says so: a disk that fills up and is freed again.
     */
    public static Store openWithDisk(Path dir, StoreOptions options, java.util.function.BooleanSupplier full) {
        WalSpace space = new WalSpace() {
            private final Preallocator real = new Preallocator();

            @Override
            public synchronized void reserve(Path file, long from, long to) throws java.io.IOException {
                if (full.getAsBoolean()) {
                    throw new java.io.IOException("No space left on device (injected)");
                }
                real.reserve(file, from, to);
            }

            @Override
            public synchronized void release(Path file) {
                real.release(file);
            }

            @Override
            public synchronized void close() {
                real.close();
            }
        };
        return Store.open(dir, options, WalSeams.defaults().withSpace(() -> space));
    }
}
