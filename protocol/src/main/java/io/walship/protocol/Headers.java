package io.walship.protocol;

/**
 * The HTTP header names of walship's API (README, "HTTP API"). Values are plain text; LSNs are
 * in their canonical printed form (16 hex digits). Constants only.
 */
public final class Headers {
    /** On every write answer: the commit's LSN. On every read answer: the LSN the read reflects. */
    public static final String LSN = "Walship-LSN";
    /** On {@code GET /snapshot}: the state digest (SHA-256, hex) of the image's content. */
    public static final String DIGEST = "Walship-Digest";
    /** On {@code GET /snapshot}: how many key/value pairs that digest counted. */
    public static final String DIGEST_PAIRS = "Walship-Digest-Pairs";
    /**
     * On writes to a node started with {@code --auth-token-file}: {@code Bearer <token>}
     * ({@link AuthToken}); a write without it, or with another token, gets 401.
     */
    public static final String AUTHORIZATION = "Authorization";

    /** On a follower's 421 answer to a write: the leader's HTTP URL (or its replication address if unknown). */
    public static final String LEADER = "Walship-Leader";

    /**
     * On a write answer from a leader: what the commit waited for after it was durable on the leader
     * — {@code async} (nothing), {@code semi-sync} or {@code sync} (the flushes of 1 or
     * {@code --sync-quorum} followers), or {@code degraded} (answered without them: the leader is in
     * degraded mode, {@code --on-sync-timeout degrade}).
     */
    public static final String SYNC = "Walship-Sync";

    /**
     * On an error answer to a write: {@code no} when the node refused it before committing anything
     * (a leader that does not hold its lease, or one with too many commits waiting for acks), so
     * that resending it, to this node or another, cannot apply it twice. Without it the outcome of a
     * failed write is unknown. A 503 carrying it may also name, in {@link #LEADER}, the node that
     * holds the leader lease now.
     */
    public static final String COMMITTED = "Walship-Committed";

    /**
     * On a write answer from a leader: the timeline the commit was written on. With the LSN it names
     * the commit across failovers (an LSN after a newer timeline's fork on an older timeline is in
     * the loss window, docs/OPERATIONS.md "Automatic failover").
     */
    public static final String TIMELINE = "Walship-Timeline";

    private Headers() {
    }
}
