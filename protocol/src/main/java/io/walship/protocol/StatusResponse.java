package io.walship.protocol;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The answer to {@code GET /status} (README, "HTTP API"). Immutable.
 *
 * @param role          {@code leader}, or {@code standby} for a restored copy not yet promoted
 * @param systemId      the store's identity, hex
 * @param timeline      the timeline it writes (or was restored) on
 * @param lastLsn       last committed LSN, 16 hex digits
 * @param durableLsn    last LSN synced to disk
 * @param checkpointLsn LSN of the last checkpoint
 * @param dataDir       the data directory
 * @param archiveLag    how far the archive is behind: the one lag figure
 * @param archive       the node's own archive shipping, absent when it ships nothing
 * @param pageCache     the page cache (buffer pool)
 * @param failed        the store has stopped after a failed WAL sync or append (fail-stop): it
 *                      answers reads and writes with 503 until it is restarted
 * @param failure       why it stopped (one line), absent while it has not
 * @param replication   the followers streaming from this node now ({@code --repl}), absent without it
 * @param slots         its replication slots, lost ones too, absent without {@code --repl}
 * @param follower      what a follower is following and how far behind it is; absent on a leader
 * @param sync          the leader's commit mode and its followers' acks ({@code --sync-mode}), absent
 *                      without {@code --repl}
 * @param lease         the leader lease this leader holds (or waits for) in its archive, absent without a
 *                      lease ({@code leader} without {@code --archive}, or with {@code --no-lease})
 * @param leader        who leads, as this node knows it ({@link Leader}): what clients ask to find the leader
 * @param failover      automatic failover's view ({@link Failover}), absent without {@code --failover auto}
 */
public record StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                             String checkpointLsn, String dataDir, ArchiveLag archiveLag,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Archive archive, PageCache pageCache,
                             boolean failed, @JsonInclude(JsonInclude.Include.NON_NULL) String failure,
                             @JsonInclude(JsonInclude.Include.NON_NULL) List<Replication> replication,
                             @JsonInclude(JsonInclude.Include.NON_NULL) List<Slot> slots,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Follower follower,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Sync sync,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Lease lease,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Leader leader,
                             @JsonInclude(JsonInclude.Include.NON_NULL) Failover failover,
                             @JsonInclude(JsonInclude.Include.NON_NULL) List<ArchiveShipping> archives) {

    /** A node without the per-archive list (before several archives). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure, List<Replication> replication,
                          List<Slot> slots, Follower follower, Sync sync, Lease lease, Leader leader,
                          Failover failover) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, replication, slots, follower, sync, lease, leader, failover, null);
    }

    /** This status with each archive this node ships to ({@code archives}). */
    public StatusResponse withArchives(List<ArchiveShipping> a) {
        return new StatusResponse(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag,
                archive, pageCache, failed, failure, replication, slots, follower, sync, lease, leader, failover, a);
    }

    /**
     * One archive this node ships its WAL to (docs/OPERATIONS.md, "Several archives").
     *
     * @param id         the archive's ID: 16 hex digits of the SHA-256 of its normalised URI (it names
     *                   {@code DATA/marks/archived.ID} and {@code DATA/ship.ID.lock})
     * @param uri        where it is (no credentials)
     * @param required   whether the local WAL is kept until this archive holds it
     * @param shippedLsn the archive holds every LSN up to this one; null until known
     * @param lagLsns    commits in the local WAL not yet in this archive; -1 until known
     * @param lagSeconds age of the oldest of them (0 if none); -1 until known
     * @param failing    the last run failed, or the running one has hung for a while, or shipping stopped
     * @param lastError  why the last run failed; null if it did not
     */
    public record ArchiveShipping(String id, String uri, boolean required, String shippedLsn, long lagLsns,
                                  double lagSeconds, boolean failing, String lastError) {
    }

    /** A node that names no leader and runs no automatic failover (before clients could ask). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure, List<Replication> replication,
                          List<Slot> slots, Follower follower, Sync sync, Lease lease) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, replication, slots, follower, sync, lease, null, null);
    }

    /** This answer naming {@code leader}. */
    public StatusResponse withLeader(Leader leader) {
        return new StatusResponse(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag,
                archive, pageCache, failed, failure, replication, slots, follower, sync, lease, leader, failover, archives);
    }

    /** This status with automatic failover's view added (or replaced). */
    public StatusResponse withFailover(Failover f) {
        return new StatusResponse(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag,
                archive, pageCache, failed, failure, replication, slots, follower, sync, lease, leader, f, archives);
    }

    /** A node without a leader lease to report. */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure, List<Replication> replication,
                          List<Slot> slots, Follower follower, Sync sync) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, replication, slots, follower, sync, null);
    }

    /** A node without a commit mode to report (a follower, or a node before commit modes). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure, List<Replication> replication,
                          List<Slot> slots, Follower follower) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, replication, slots, follower, null);
    }

    /** A node without a replication endpoint. */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, null, null, null, null);
    }

    /** A node with a replication endpoint (or without, when both lists are null). */
    public StatusResponse(String role, String systemId, int timeline, String lastLsn, String durableLsn,
                          String checkpointLsn, String dataDir, ArchiveLag archiveLag, Archive archive,
                          PageCache pageCache, boolean failed, String failure, List<Replication> replication,
                          List<Slot> slots) {
        this(role, systemId, timeline, lastLsn, durableLsn, checkpointLsn, dataDir, archiveLag, archive, pageCache,
                failed, failure, replication, slots, null, null);
    }

    /**
     * The archive's lag, one figure for the whole node, measured where retention measures it: WAL
     * the store keeps because a required archive does not hold it yet (the lowest
     * {@code marks/archived.ID}; each archive's own lag is in {@link ArchiveShipping}), written by
     * whichever process ships: {@code leader --archive}, {@code walship ship} or the scheduler).
     * All zero until archiving has started.
     *
     * @param bytes   WAL bytes not yet archived
     * @param lsns    commits not yet archived
     * @param seconds age of the oldest commit not yet archived, when this process ships (null otherwise
     *                or until its first run)
     */
    public record ArchiveLag(long bytes, long lsns, @JsonInclude(JsonInclude.Include.NON_NULL) Double seconds) {
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
     * @param lastError    why the last run failed, null if it did not
     */
    public record Archive(String archive, String archivedUpTo, String lastError) {
    }

    /**
     * The page cache ({@code --cache-size}).
     *
     * @param capacityBytes the configured size
     * @param usedBytes     pages held now
     * @param dirtyPages    held pages changed since they were last written to {@code pages.dat}
     * @param hits          page lookups served from memory since the store opened
     * @param misses        page lookups that read {@code pages.dat}
     * @param hitRatio      hits / (hits + misses); 1.0 before any lookup
     * @param evictions     pages that left the cache to make room
     */
    public record PageCache(long capacityBytes, long usedBytes, long dirtyPages, long hits, long misses,
                            double hitRatio, long evictions) {
    }

    /**
     * The leader's commit mode (README, "Commit modes"; docs/OPERATIONS.md, "Commit modes").
     *
     * @param mode             {@code async}, {@code semi-sync} or {@code sync}
     * @param quorum           followers a commit waits for in this mode (0 for async)
     * @param timeout          {@code --sync-timeout}, e.g. {@code PT10S}
     * @param onTimeout        {@code block} or {@code degrade}
     * @param synchronous      the followers whose acks count now: the most advanced connected ones
     * @param waiting          commits (and reads) waiting for acks now
     * @param ackedLsn         the highest LSN that {@code quorum} followers have flushed; null if none yet
     * @param visibleLsn       the highest LSN readers on this leader may see: durable here and acknowledged
     * @param blocked          a commit has waited longer than the timeout and still waits ({@code block})
     * @param blockedForMs     how long past its timeout the oldest blocked commit has waited
     * @param blocks           times commits became blocked since start
     * @param degraded         commits are answered without acks ({@code degrade}) until followers catch up
     * @param degradations     times the leader degraded since start
     * @param degradedUntilLsn degraded mode ends once {@code quorum} followers flushed this LSN; null when not degraded
     */
    public record Sync(String mode, int quorum, String timeout, String onTimeout, List<String> synchronous,
                       int waiting, @JsonInclude(JsonInclude.Include.NON_NULL) String ackedLsn, String visibleLsn,
                       boolean blocked, long blockedForMs, long blocks, boolean degraded, long degradations,
                       @JsonInclude(JsonInclude.Include.NON_NULL) String degradedUntilLsn) {
    }

    /**
     * The leader lease (docs/OPERATIONS.md, "The leader lease").
     *
     * @param state           HELD, FENCED, WAITING, LOST, SUPERSEDED or RELEASED
     * @param writable        whether this leader acknowledges writes now (only while HELD)
     * @param holder          who holds the lease as last read (node, timeline, term, URL, expiry); absent if unknown
     * @param term            the lease's term as last read (0 if unknown)
     * @param expiresAt       its wall-clock expiry as last read, ISO-8601 UTC; absent if unknown
     * @param validForMs      how long this leader may still acknowledge writes without another renewal
     * @param reason          why writes are refused, or why the last renewal failed; absent if all is well
     * @param ttl             {@code --lease-ttl}
     * @param skewMargin      {@code --lease-skew-margin}
     * @param renewals        successful renewals since start
     * @param renewalFailures failed renewals or attempts to take the lease since start
     * @param fencings        times this leader stopped acknowledging writes since start
     */
    public record Lease(String state, boolean writable, @JsonInclude(JsonInclude.Include.NON_NULL) String holder,
                        long term, @JsonInclude(JsonInclude.Include.NON_NULL) String expiresAt, long validForMs,
                        @JsonInclude(JsonInclude.Include.NON_NULL) String reason, String ttl, String skewMargin,
                        long renewals, long renewalFailures, long fencings) {
    }

    /**
     * Who leads, as this node knows it (README, "Clients and failover"): what {@code WalshipClient}
     * asks every node it knows when its leader cannot be reached or refuses writes.
     *
     * <ul>
     *   <li>On a leader that may take writes, or that is fenced but knows of no other holder of the
     *       lease: itself ({@code self}), its timeline, whether it acknowledges writes now
     *       ({@code writable}: its lease is held, or it has none, and its store has not failed) and
     *       its lease's state.</li>
     *   <li>On a leader whose lease another node holds (WAITING, LOST, SUPERSEDED): that node, as the
     *       lease names it ({@code self} false).</li>
     *   <li>On a follower: the leader it follows — its HTTP URL once the leader announced it, its
     *       replication address, and the timeline it follows.</li>
     * </ul>
     *
     * @param self     the node answering is the leader it names
     * @param url      the leader's HTTP URL ({@code http(s)://HOST:PORT}); absent if unknown
     * @param repl     the leader's replication address ({@code HOST:PORT}); absent if unknown or none
     * @param timeline the leader's timeline (as far as this node knows)
     * @param writable whether the named leader acknowledges writes now; only a leader says it, of itself
     * @param lease    the named leader's lease state when it is this node ({@code HELD}, {@code FENCED}, …);
     *                 absent without a lease
     */
    public record Leader(boolean self, @JsonInclude(JsonInclude.Include.NON_NULL) String url,
                         @JsonInclude(JsonInclude.Include.NON_NULL) String repl, int timeline,
                         @JsonInclude(JsonInclude.Include.NON_NULL) Boolean writable,
                         @JsonInclude(JsonInclude.Include.NON_NULL) String lease) {
    }

    /**
     * Automatic failover ({@code walship follow --failover auto}), shown by a follower and by the
     * leader it became (docs/OPERATIONS.md, "Automatic failover").
     *
     * @param mode             {@code auto}
     * @param state            FOLLOWING, LEADER_SILENT, WAITING_FOR_WINNER, PROMOTING, LEADER, or STOPPED
     * @param heartbeatTimeout {@code --heartbeat-timeout}
     * @param leaderSilentMs   how long no frame came from a leader (0 once this node leads)
     * @param winner           the candidate the last election chose, absent before any
     * @param lastEvent        the last step taken, one line
     * @param elections        elections this node ran
     * @param promotions       promotions this node attempted (and {@code promoted} succeeded: 0 or 1)
     * @param statusWrites     status objects written to the archive
     */
    public record Failover(String mode, String state, String heartbeatTimeout, long leaderSilentMs,
                           @JsonInclude(JsonInclude.Include.NON_NULL) String winner,
                           @JsonInclude(JsonInclude.Include.NON_NULL) String lastEvent, long elections,
                           long promotions, long promoted, long statusWrites) {
    }
}
