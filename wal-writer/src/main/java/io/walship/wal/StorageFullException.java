package io.walship.wal;

/**
 * The file system holding the WAL has no room for the next entry. Raised before anything of the
 * commit is written: the commit is rolled back (its pages restored, its LSN not used) and the
 * store stays open, so writes work again as soon as space is freed. The HTTP layer answers 507.
 */
public final class StorageFullException extends WalshipException {
    public StorageFullException(String message, Throwable cause) {
        super(message, cause);
    }
}
