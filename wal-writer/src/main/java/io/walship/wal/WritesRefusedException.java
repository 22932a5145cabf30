package io.walship.wal;

/**
 * The store takes no writes now, though it is healthy: it is a standby restored from the archive (until
 * promoted), or its archive is too far behind ({@code --max-archive-lag}). Nothing of the write was applied;
 * a leader answers 503, the CLI exits 6 (unavailable).
 */
public final class WritesRefusedException extends WalshipException {
    public WritesRefusedException(String message) {
        super(message);
    }
}
