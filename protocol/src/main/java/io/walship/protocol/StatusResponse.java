package io.walship.protocol;

import java.util.List;

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
 * @param replication     the followers streaming from this node now ({@code --repl}), absent without it
 * @param slots           its replication slots, lost ones too, absent without {@code --repl}
 * @param follower        what a follower is following and how far behind it is; absent on a leader
 */
public record StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                             String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Archive archive,
                             @JsonInclude(JsonInclude.Include.NON_NULL) List<Replication> replication,
                             @JsonInclude(JsonInclude.Include.NON_NULL) List<Slot> slots,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Follower follower) {

    /** A node without a replication endpoint. */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns,
                          Archive archive) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLagBytes, archiveLagLsns,
                archive, null, null, null);
    }

    /** A leader with a replication endpoint (or without, when both lists are null). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns,
                          Archive archive, List<Replication> replication, List<Slot> slots) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLagBytes, archiveLagLsns,
                archive, replication, slots, null);
    }

    /**
     * One follower streaming from this node, as PostgreSQL's {@code pg_stat_replication} shows it.
     * LSNs are 16 hex digits; lags are in ms, -1 until measured (docs/PROTOCOL.md, "Lag in time").
     *
     * @param nodeId   the follower's name (its HELLO)
     * @param slot     its slot, "" if none
     * @param remote   its address, HOST:PORT
     * @param state    {@code startup}, {@code catchup} (sending WAL that was already durable),
     *                 {@code streaming} (caught up), {@code stopped}
     * @param sentLsn  the last LSN sent
     * @param writeLsn the last LSN it wrote, {@code flushLsn} synced, {@code replayLsn} applied
     */
    public record Replication(String nodeId, String slot, String remote, String state, String sentLsn,
                              String writeLsn, String flushLsn, String replayLsn, long writeLagMs, long flushLagMs,
                              long replayLagMs) {
    }

    /**
     * A replication slot (docs/OPERATIONS.md, "Replication slots").
     *
     * @param name          the slot's name
     * @param restartLsn    the follower has flushed up to here; the WAL after it is kept
     * @param lost          it held more than {@code --max-slot-wal-keep} and was dropped
     * @param retainedBytes WAL bytes it holds back now (0 when lost)
     * @param active        a follower streams on it now
     */
    public record Slot(String name, String restartLsn, boolean lost, long retainedBytes, boolean active) {
    }

    /**
     * A follower's view of its replication ({@code walship follow}; OPERATIONS.md, "Followers").
     *
     * @param state        archive, connecting, stream, backoff or stopped
     * @param source       where the applied WAL comes from now: {@code archive} or {@code stream}
     * @param leader       the leader's replication address (HOST:PORT)
     * @param leaderUrl    the leader's HTTP URL as it announced it (null until known)
     * @param appliedLsn   last LSN applied (what reads reflect)
     * @param leaderLsn    the leader's durable LSN as last heard (null until heard)
     * @param lagLsns      leaderLsn - appliedLsn (-1 until the leader's LSN is known)
     * @param lagSeconds   how far behind in time, at least (0 when caught up, -1 until the leader is heard)
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
