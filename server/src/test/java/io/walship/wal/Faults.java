package io.walship.wal;

import java.nio.file.Path;

/**
 * A store whose WAL sync can be made to fail and whose disk can be made full, for the server's
 * tests of what such a store answers over HTTP (the engine's seams are package-private; this
 * class lives in their package on the test classpath only).
 */
public final class Faults implements AutoCloseable {
    private final TestSync sync = new TestSync();
    private final TestSpace space = new TestSpace();
    public final Store store;

    public Faults(Path dir) {
        this.store = Store.open(dir, StoreOptions.defaults(),
                WalSeams.defaults().withSync(sync).withSpace(() -> space));
    }

    /** Every WAL sync from now on fails with an injected EIO: the store stops (fail-stop). */
    public void failSyncs() {
        sync.failFromNext(1);
    }

    /** No WAL sync completes until {@link #releaseSyncs} (called by the same thread). */
    public void holdSyncs() {
        sync.close();
    }

    public void releaseSyncs() {
        sync.open();
    }

    /** The WAL's disk answers "no space" (true) or has room again (false). */
    public void diskFull(boolean full) {
        space.full = full;
    }

    @Override
    public void close() {
        sync.openIfClosed();
        store.close();
    }
}
