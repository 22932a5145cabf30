package io.walship.client;

/**
 * Which node a read goes to first. Whatever the policy, a node that cannot serve the session's
 * LSN (503), fails (5xx) or cannot be reached is skipped for the next one, and the leader comes
 * last: a read on the leader always satisfies the session's token.
 */
public enum ReadPolicy {
    /** Followers in turn (round-robin), then the other followers, then the leader. The default. */
    FOLLOWERS_FIRST,
    /** The followers and the leader in turn (round-robin); after a refusal, the other followers, then the leader. */
    ROUND_ROBIN,
    /** Always the leader (followers are not used for reads). */
    LEADER_ONLY
}
