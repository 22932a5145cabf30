package io.walship.server;

import io.walship.wal.WalshipException;

/**
 * A write a leader refused before committing anything (it does not hold its lease, or too many
 * commits wait for acks): answered 503 with {@code Walship-Committed: no}, so a client may resend it
 * (README, "Clients and failover"), and with the lease's holder in {@code Walship-Leader} when
 * another node holds it.
 */
public final class WriteRefusedException extends WalshipException {
    private final String leader;

    /** @param leader the HTTP URL of the node holding the lease now, or null if unknown or this one */
    public WriteRefusedException(String message, String leader) {
        super(message);
        this.leader = leader;
    }

    /** The HTTP URL of the node holding the lease now, or null. */
    public String leader() {
        return leader;
    }
}
