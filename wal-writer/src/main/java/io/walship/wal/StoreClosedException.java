package io.walship.wal;

/**
 * The store is closed (or closing): it takes no reads or writes. Nothing of a refused write was applied; a
 * leader answers 503, the CLI exits 6 (unavailable), as for {@link WritesRefusedException}.
 */
public final class StoreClosedException extends WalshipException {
    public StoreClosedException(String message) {
        super(message);
    }
}
