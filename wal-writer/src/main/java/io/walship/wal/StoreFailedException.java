package io.walship.wal;

/**
 * The store has stopped after a failure it cannot safely continue from: a WAL sync that
 * failed (the kernel may already have dropped the unwritten pages, so retrying could
 * acknowledge data that is not on disk), an append that broke half-way, or a failed fsync of
 * the page file during a checkpoint (pages written back may be lost). Nothing from the
 * failed group on is acknowledged; every later write and read fails with this exception, which
 * names the first failure, until the store is closed and opened again — opening recovers every
 * acknowledged commit from the WAL. PostgreSQL's answer to a failed fsync is the same (PANIC,
 * then crash recovery). The HTTP layer answers 503.
 */
public final class StoreFailedException extends WalshipException {
    public StoreFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
