package io.walship.wal;

/**
 * A {@link Snapshot} was given up before its reader finished: it kept more before-images than
 * {@link StoreOptions#snapshotByteLimit()} allows, or stayed open longer than
 * {@link StoreOptions#snapshotMaxAge()}. Its memory is released; the message names the snapshot's
 * LSN, what it held and the limit. Take a new snapshot to try again.
 */
public final class SnapshotAbandonedException extends WalshipException {
    private final long lsn;

    public SnapshotAbandonedException(long lsn, String message) {
        super(message);
        this.lsn = lsn;
    }

    /** The LSN of the abandoned snapshot. */
    public long lsn() {
        return lsn;
    }
}
