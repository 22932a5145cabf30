package io.walship.wal;

/** Another process holds the data directory open for writing. */
public final class StoreLockedException extends WalshipException {
    public StoreLockedException(String message) {
        super(message);
    }
}
