package io.walship.server;

/**
 * A write sent to a node that is not the leader: the {@link HttpApi} answers 421 (Misdirected
 * Request) with the leader's URL in {@code Walship-Leader} and in the body.
 */
public final class NotLeaderException extends RuntimeException {
    private final String leader;

    public NotLeaderException(String leader) {
        super("this node is a read-only follower; send writes to the leader at " + leader);
        this.leader = leader;
    }

    /** The leader's HTTP URL, or its replication address when its URL is not known yet. */
    public String leader() {
        return leader;
    }
}
