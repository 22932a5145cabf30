package io.walship.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The answer to {@code GET /status} (README, "HTTP API"). Immutable.
 *
 * @param role            {@code leader}, or {@code standby} for a restored copy not yet promoted
 * @param systemId        the store's identity, hex
 * @param timeline        the timeline it writes (or was restored) on
 * @param lastLsn         last committed LSN, 16 hex digits
 * @param durableLsn      last LSN synced to disk
 * @param checkpointLsn   LSN of the last checkpoint
 * @param dataDir         the data directory
 * @param archiveLagBytes WAL bytes the store keeps for the archive (0 until archiving starts)
 * @param archiveLagLsns  commits the store keeps for the archive
 * @param archive         the node's own archive shipping, absent when it ships nothing
 * @param follower        what a follower is following and how far behind it is; absent on a leader
 */
public record StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                             String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Archive archive,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Follower follower) {

    /** A node's status without follower fields (a leader or a standby). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns, Archive archive) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLagBytes, archiveLagLsns,
                archive, null);
    }

    /**
     * A follower's view of its replication ({@code walship follow}; OPERATIONS.md, "Followers").
     *
     * @param state        bootstrap, archive, connecting, stream, backoff or stopped
     * @param source       where the applied WAL comes from now: {@code archive} or {@code stream}
     * @param leader       the leader's replication address (HOST:PORT)
     * @param leaderUrl    the leader's HTTP URL as it announced it (null until known)
     * @param appliedLsn   last LSN applied (what reads reflect)
     * @param leaderLsn    the leader's durable LSN as last heard (null until heard)
     * @param lagLsns      leaderLsn - appliedLsn (-1 until the leader's LSN is known)
     * @param lagSeconds   how old the oldest unapplied leader commit is (0 when caught up, -1 unknown)
     * @param reconnects   connections to the leader that ended and were retried
     * @param lastError    why the last connection or archive catch-up failed, null if none did
     */
    public record Follower(String state, String source, String leader, String leaderUrl, String appliedLsn,
                           String leaderLsn, long lagLsns, double lagSeconds, long reconnects, String lastError) {
    }

    /**
     * Archive shipping inside the node ({@code walship leader --archive}).
     *
     * @param archive      where it ships (no credentials)
     * @param archivedUpTo the archive holds every LSN up to this one; null until the first run
     * @param lagLsns      commits in the WAL not yet archived; -1 until known
     * @param lagSeconds   age of the oldest commit not yet archived; -1 until known
     * @param lastError    why the last run failed, null if it did not
     */
    public record Archive(String archive, String archivedUpTo, long lagLsns, double lagSeconds, String lastError) {
    }
}
