package io.walship.wal;

/** A reader asked for an LSN that the leader has already deleted (it was archived and checkpointed). */
public final class WalNoLongerAvailableException extends WalshipException {
    private final long requested;
    private final long firstAvailable;

    public WalNoLongerAvailableException(long requested, long firstAvailable) {
        super("WAL at LSN " + Lsn.format(requested) + " is no longer available on the leader (first available: "
                + Lsn.format(firstAvailable) + "); fetch it from the archive");
        this.requested = requested;
        this.firstAvailable = firstAvailable;
    }

    public long requested() {
        return requested;
    }

    public long firstAvailable() {
        return firstAvailable;
    }
}
