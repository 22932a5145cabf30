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
 */
public record StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                             String checkpointLsn, String dataDir, long archiveLagBytes, long archiveLagLsns,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Archive archive) {

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
