package io.walship.server;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.walship.protocol.StatusResponse;
import io.walship.wal.Durability;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.WriteBatch;

/**
 * A follower ({@code walship follow}): reads from the store its follower loop applies the
 * leader's WAL to; writes are refused with {@link NotLeaderException} (421 naming the leader).
 * Reads with {@code min_lsn} may wait up to {@code readWait} for it (the {@link HttpApi} parks
 * them, woken by the store's applied-LSN listener); reads without it are refused (503) while the
 * follower lags its leader by more than {@code maxReplayLag}, or has not heard from it yet. {@code /status} and
 * {@code /metrics} add the loop's view ({@link StatusResponse.Follower}).
 *
 * <p>The node owns neither the store nor the loop. Thread-safe.
 */
public final class FollowerNode implements Node {
    private final Store store;
    private final Supplier<StatusResponse.Follower> follower;
    private final Duration readWait;
    private final Duration maxReplayLag;
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    /**
     * @param follower     the follower loop's current view (state, source, leader, lag)
     * @param readWait     how long a read may wait for its {@code min_lsn}
     * @param maxReplayLag past this lag reads without {@code min_lsn} get 503; null: no bound
     */
    public FollowerNode(Store store, Supplier<StatusResponse.Follower> follower, Duration readWait, Duration maxReplayLag) {
        this.store = Objects.requireNonNull(store, "store");
        this.follower = Objects.requireNonNull(follower, "follower");
        this.readWait = Objects.requireNonNull(readWait, "readWait");
        this.maxReplayLag = maxReplayLag;
        Gauge.builder("walship_applied_lsn", store, Store::lastLsn).description("Last LSN applied (what reads reflect)")
                .register(registry);
        Gauge.builder("walship_durable_lsn", store, Store::durableLsn).description("Last LSN synced to the local WAL")
                .register(registry);
        Gauge.builder("walship_checkpoint_lsn", store, Store::checkpointLsn)
                .description("LSN of the last restartpoint").register(registry);
        Gauge.builder("walship_replication_lag_lsns", this, n -> n.follower.get().lagLsns())
                .description("Leader's durable LSN minus the applied LSN (-1 until known)").register(registry);
        Gauge.builder("walship_replication_lag_seconds", this, n -> n.follower.get().lagSeconds())
                .description("Age of the oldest leader commit not yet applied (0 when caught up)").register(registry);
        Gauge.builder("walship_replication_streaming", this, n -> "stream".equals(n.follower.get().source()) ? 1 : 0)
                .description("1 while the follower streams from its leader, 0 while it reads the archive").register(registry);
        FunctionCounter.builder("walship_replication_reconnects", this, n -> n.follower.get().reconnects())
                .description("Connections to the leader that ended and were retried").register(registry);
        FunctionCounter.builder("walship_wal_entries", store, s -> s.stats().walEntries())
                .description("Entries appended to the local WAL").register(registry);
        FunctionCounter.builder("walship_wal_fsyncs", store, s -> s.stats().walSyncs())
                .description("Local WAL syncs; a streamed batch costs one").register(registry);
        FunctionCounter.builder("walship_checkpoints", store, s -> s.stats().checkpoints())
                .description("Completed restartpoints").register(registry);
    }

    @Override
    public Store store() {
        return store;
    }

    private NotLeaderException notLeader() {
        StatusResponse.Follower f = follower.get();
        return new NotLeaderException(f.leaderUrl() != null ? f.leaderUrl() : f.leader());
    }

    @Override
    public long put(byte[] key, byte[] value, Durability durability) {
        throw notLeader();
    }

    @Override
    public long delete(byte[] key, Durability durability) {
        throw notLeader();
    }

    @Override
    public long write(WriteBatch batch, Durability durability) {
        throw notLeader();
    }

    @Override
    public Duration readWait() {
        return readWait;
    }

    @Override
    public String notReadable() {
        if (maxReplayLag == null) {
            return null;
        }
        StatusResponse.Follower f = follower.get();
        double bound = maxReplayLag.toNanos() / 1e9;
        if (f.lagSeconds() < 0) {
            return "this follower has not heard from its leader yet, so how far behind it is is unknown (--max-replay-lag "
                    + maxReplayLag + "); read from the leader or pass min_lsn";
        }
        if (f.lagSeconds() > bound) {
            return String.format("this follower is %.1f s behind its leader, over --max-replay-lag %s; read from the"
                    + " leader or pass min_lsn", f.lagSeconds(), maxReplayLag);
        }
        return null;
    }

    @Override
    public StatusResponse status() {
        StatusResponse s = LeaderNode.statusOf(store, "follower", null, null);
        StatusResponse.Follower f = follower.get();
        return new StatusResponse(s.role(), s.systemId(), s.timeline(), s.lastLsn(), s.durableLsn(), s.checkpointLsn(),
                s.dataDir(), s.archiveLag(), null, s.pageCache(), s.failed(), s.failure(), null, null, f)
                .withLeader(new StatusResponse.Leader(false, blankToNull(f.leaderUrl()), blankToNull(f.leader()),
                        store.timeline(), null, null));
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    @Override
    public String metrics() {
        return registry.scrape();
    }
}
