package io.walship.server;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.walship.archive.LeaseKeeper;
import io.walship.shipper.repl.AckTracker;
import io.walship.shipper.repl.ReplicationServer;
import io.walship.wal.Store;

/**
 * The leader's Prometheus metrics (Micrometer): commit, WAL and checkpoint counters read from
 * the store, the commit latency of the writes the node takes and, with a replication endpoint, each
 * follower's positions and lags and each slot's retained WAL. Thread-safe.
 */
final class LeaderMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer commitLatency;
    private final Timer ackLatency;
    private MultiGauge syncFollowers;
    private final ReplicationServer replication;
    private MultiGauge followerLsn;
    private MultiGauge followerLag;
    private MultiGauge slotRetained;
    private MultiGauge slotLost;

    /**
     * Registers each archive's shipping gauges, labelled {@code archive=ID} and {@code required}:
     * shipped LSN, lag in commits and seconds (-1: unknown, as the scheduler's gauges) and failing (1/0).
     */
    void archives(List<io.walship.shipper.ShipLoop> loops) {
        for (io.walship.shipper.ShipLoop l : loops) {
            Tags t = Tags.of("archive", l.archiveId(), "required", Boolean.toString(l.required()));
            Gauge.builder("walship_archive_shipped_lsn", l, x -> x.status().archivedUpTo()).tags(t)
                    .description("The archive holds every LSN up to this one (-1: unknown yet)").register(registry);
            Gauge.builder("walship_archive_shipping_lag_lsns", l, x -> x.status().lagLsns()).tags(t)
                    .description("Commits in the local WAL not yet in this archive (-1: unknown)").register(registry);
            Gauge.builder("walship_archive_shipping_lag_seconds", l, x -> x.status().lagSeconds()).tags(t)
                    .description("Age of the oldest commit not yet in this archive (-1: unknown)").baseUnit("seconds")
                    .register(registry);
            Gauge.builder("walship_archive_shipping_failing", l, x -> x.status().failing() ? 1 : 0).tags(t)
                    .description("1 while shipping to this archive fails, hangs or stopped, else 0").register(registry);
        }
    }

    LeaderMetrics(Store store) {
        this(store, null);
    }

    /** @param replication the replication endpoint whose followers and slots are reported, or null */
    LeaderMetrics(Store store, ReplicationServer replication) {
        this(store, replication, null);
    }

    /** @param lease the keeper of the leader lease, whose state is reported, or null */
    LeaderMetrics(Store store, ReplicationServer replication, LeaseKeeper lease) {
        this.replication = replication;
        if (lease != null) {
            Gauge.builder("walship_lease_writable", lease, l -> l.writable() ? 1 : 0)
                    .description("1 while this leader holds a valid leader lease and acknowledges writes, else 0")
                    .register(registry);
            for (LeaseKeeper.State st : LeaseKeeper.State.values()) {
                Gauge.builder("walship_lease_state", lease, l -> l.status().state() == st ? 1 : 0)
                        .tags("state", st.name().toLowerCase(java.util.Locale.ROOT))
                        .description("1 for the leader lease's state now (held, fenced, waiting, lost, superseded,"
                                + " released)").register(registry);
            }
            Gauge.builder("walship_lease_term", lease, l -> l.status().term())
                    .description("The leader lease's term as last read (0 if unknown)").register(registry);
            Gauge.builder("walship_lease_valid_seconds", lease, l -> l.status().validForMillis() / 1000.0)
                    .description("How long this leader may still acknowledge writes without another renewal")
                    .baseUnit("seconds").register(registry);
            FunctionCounter.builder("walship_lease_renewals", lease, l -> l.status().renewals())
                    .description("Successful renewals of the leader lease").register(registry);
            FunctionCounter.builder("walship_lease_renewal_failures", lease, l -> l.status().renewalFailures())
                    .description("Failed renewals of, or attempts to take, the leader lease").register(registry);
            FunctionCounter.builder("walship_lease_fencings", lease, l -> l.status().fencings())
                    .description("Times this leader stopped acknowledging writes (lease not renewed in time, lost,"
                            + " superseded)").register(registry);
        }
        FunctionCounter.builder("walship_commits", store, s -> s.stats().commits())
                .description("Commits that wrote a WAL entry").register(registry);
        FunctionCounter.builder("walship_wal_bytes", store, s -> s.stats().walBytes())
                .description("Bytes appended to the WAL").baseUnit("bytes").register(registry);
        FunctionCounter.builder("walship_wal_entries", store, s -> s.stats().walEntries())
                .description("Entries appended to the WAL").register(registry);
        FunctionCounter.builder("walship_wal_fsyncs", store, s -> s.stats().walSyncs())
                .description("WAL syncs (msync); concurrent commits share one").register(registry);
        FunctionCounter.builder("walship_wal_full_page_images", store, s -> s.stats().fullPageImages())
                .description("Full-page images written to the WAL").register(registry);
        FunctionCounter.builder("walship_checkpoints", store, s -> s.stats().checkpoints())
                .description("Completed checkpoints").register(registry);
        Gauge.builder("walship_last_lsn", store, Store::lastLsn).description("Last committed LSN").register(registry);
        Gauge.builder("walship_durable_lsn", store, Store::durableLsn).description("Last LSN synced to disk")
                .register(registry);
        Gauge.builder("walship_checkpoint_lsn", store, Store::checkpointLsn).description("LSN of the last checkpoint")
                .register(registry);
        Gauge.builder("walship_buffer_pool_pages", store, s -> s.stats().poolPages())
                .description("Pages held in memory").register(registry);
        Gauge.builder("walship_page_cache_capacity_bytes", store, s -> s.stats().poolCapacityBytes())
                .description("Configured page cache size (--cache-size)").baseUnit("bytes").register(registry);
        Gauge.builder("walship_page_cache_used_bytes", store, s -> s.stats().poolBytes())
                .description("Pages held in the page cache now").baseUnit("bytes").register(registry);
        Gauge.builder("walship_page_cache_dirty_pages", store, s -> s.stats().poolDirtyPages())
                .description("Cached pages changed since they were last written to pages.dat").register(registry);
        FunctionCounter.builder("walship_page_cache_hits", store, s -> s.stats().poolHits())
                .description("Page lookups served from the cache").register(registry);
        FunctionCounter.builder("walship_page_cache_misses", store, s -> s.stats().poolMisses())
                .description("Page lookups that read pages.dat").register(registry);
        Gauge.builder("walship_page_cache_hit_ratio", store, s -> s.stats().poolHitRatio())
                .description("Hits over lookups since the store opened (1 before any)").register(registry);
        FunctionCounter.builder("walship_page_cache_evictions", store, s -> s.stats().evictions())
                .description("Pages that left the cache to make room").register(registry);
        FunctionCounter.builder("walship_page_cache_eviction_writes", store, s -> s.stats().evictionWrites())
                .description("Changed pages written to pages.dat to make room").register(registry);
        Gauge.builder("walship_store_failed", store, s -> s.failure().isPresent() ? 1 : 0)
                .description("1 once the store has stopped after a failed WAL sync or append (restart it), else 0")
                .register(registry);
        Gauge.builder("walship_snapshots_open", store, s -> s.stats().snapshotsOpen())
                .description("Snapshots open now (/snapshot, /scan, /digest, backups)").register(registry);
        FunctionCounter.builder("walship_snapshots_abandoned", store, s -> s.stats().snapshotsAbandoned())
                .description("Snapshots given up because they passed their memory or age bound").register(registry);
        Gauge.builder("walship_archive_lag_bytes", store, s -> s.stats().archiveLagBytes())
                .description("WAL bytes not yet in the archive (0 until archiving starts)").register(registry);
        Gauge.builder("walship_archive_lag_lsns", store, s -> s.stats().archiveLagLsns())
                .description("Commits not yet in the archive").register(registry);
        commitLatency = Timer.builder("walship_commit_latency").description("Time from request to durable commit")
                .publishPercentiles(0.5, 0.99).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(20_000)).maximumExpectedValue(Duration.ofSeconds(5))
                .register(registry);
        ackLatency = Timer.builder("walship_sync_ack_latency")
                .description("Time a commit waited for follower acks after it was durable on the leader"
                        + " (semi-sync, sync; acknowledged commits only)")
                .publishPercentiles(0.5, 0.99).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofNanos(20_000)).maximumExpectedValue(Duration.ofSeconds(30))
                .register(registry);
        if (replication != null) {
            AckTracker acks = replication.acks();
            Gauge.builder("walship_sync_mode", acks, a -> 1)
                    .tags("mode", acks.options().mode().flag(), "on_timeout", acks.options().onTimeout().flag())
                    .description("The leader's commit mode (--sync-mode, --on-sync-timeout), always 1")
                    .register(registry);
            Gauge.builder("walship_sync_quorum", acks, a -> a.options().required())
                    .description("Followers a commit waits for (0 async, 1 semi-sync, --sync-quorum for sync)")
                    .register(registry);
            Gauge.builder("walship_sync_waiting", acks, AckTracker::waiting)
                    .description("Commits and reads waiting for follower acks now").register(registry);
            Gauge.builder("walship_sync_blocked", acks, a -> a.status().blocked() ? 1 : 0)
                    .description("1 while a commit waits past --sync-timeout (--on-sync-timeout block)")
                    .register(registry);
            FunctionCounter.builder("walship_sync_blocks", acks, a -> a.status().blocks())
                    .description("Times commits became blocked past --sync-timeout").register(registry);
            Gauge.builder("walship_sync_degraded", acks, a -> a.degraded() ? 1 : 0)
                    .description("1 while commits are answered without follower acks (--on-sync-timeout degrade)")
                    .register(registry);
            FunctionCounter.builder("walship_sync_degradations", acks, a -> a.status().degradations())
                    .description("Times the leader degraded to async after --sync-timeout").register(registry);
            Gauge.builder("walship_sync_acked_lsn", acks, a -> a.ackedLsn(Math.max(1, a.options().required())))
                    .description("Highest LSN flushed by as many followers as the mode needs (-1: none)")
                    .register(registry);
            Gauge.builder("walship_sync_visible_lsn", acks, a -> Math.max(0, a.visibleLsn()))
                    .description("Highest LSN readers on the leader may see (durable and acknowledged)")
                    .register(registry);
            syncFollowers = MultiGauge.builder("walship_sync_follower_flush_lsn")
                    .description("Flush LSN of each follower whose acks count now (the most advanced ones)")
                    .register(registry);
            Gauge.builder("walship_replication_followers", replication, r -> r.sessions().size())
                    .description("Followers streaming from this node").register(registry);
            FunctionCounter.builder("walship_replication_slots_lost", replication, ReplicationServer::slotsLostTotal)
                    .description("Replication slots marked lost since start (they held more than"
                            + " --max-slot-wal-keep)").register(registry);
            FunctionCounter.builder("walship_replication_refused_over_limit", replication,
                    ReplicationServer::refusedOverLimit)
                    .description("Follower connections refused at the session limit").register(registry);
            followerLsn = MultiGauge.builder("walship_replication_lsn")
                    .description("A follower's position: sent, write, flush or replay LSN").register(registry);
            followerLag = MultiGauge.builder("walship_replication_lag").baseUnit("seconds")
                    .description("A follower's write, flush or replay lag in time (-1 until measured)")
                    .register(registry);
            slotRetained = MultiGauge.builder("walship_replication_slot_retained").baseUnit("bytes")
                    .description("WAL a replication slot holds back").register(registry);
            slotLost = MultiGauge.builder("walship_replication_slot_lost")
                    .description("1 if the replication slot was marked lost").register(registry);
        }
    }

    /** Re-reads the followers and slots into the multi-gauges (they come and go). */
    private void refreshReplication() {
        List<MultiGauge.Row<?>> lsns = new ArrayList<>();
        List<MultiGauge.Row<?>> lags = new ArrayList<>();
        for (ReplicationServer.SessionInfo f : replication.sessions()) {
            Tags t = Tags.of("follower", f.nodeId(), "remote", f.remote(), "slot", f.slot());
            lsns.add(MultiGauge.Row.of(t.and("position", "sent"), f.sentLsn()));
            lsns.add(MultiGauge.Row.of(t.and("position", "write"), f.writeLsn()));
            lsns.add(MultiGauge.Row.of(t.and("position", "flush"), f.flushLsn()));
            lsns.add(MultiGauge.Row.of(t.and("position", "replay"), f.replayLsn()));
            lags.add(MultiGauge.Row.of(t.and("position", "write"), seconds(f.writeLagMs())));
            lags.add(MultiGauge.Row.of(t.and("position", "flush"), seconds(f.flushLagMs())));
            lags.add(MultiGauge.Row.of(t.and("position", "replay"), seconds(f.replayLagMs())));
        }
        followerLsn.register(lsns, true);
        followerLag.register(lags, true);
        List<MultiGauge.Row<?>> retained = new ArrayList<>();
        List<MultiGauge.Row<?>> lost = new ArrayList<>();
        for (ReplicationServer.SlotInfo s : replication.slotList()) {
            retained.add(MultiGauge.Row.of(Tags.of("slot", s.name()), s.retainedBytes()));
            lost.add(MultiGauge.Row.of(Tags.of("slot", s.name()), s.lost() ? 1 : 0));
        }
        slotRetained.register(retained, true);
        slotLost.register(lost, true);
        List<MultiGauge.Row<?>> sync = new ArrayList<>();
        for (AckTracker.SyncFollower f : replication.acks().status().synchronous()) {
            sync.add(MultiGauge.Row.of(Tags.of("follower", f.name()), f.flushLsn()));
        }
        syncFollowers.register(sync, true);
    }

    private static double seconds(long ms) {
        return ms < 0 ? -1 : ms / 1000.0;
    }

    Timer commitLatency() {
        return commitLatency;
    }

    Timer ackLatency() {
        return ackLatency;
    }

    synchronized String scrape() {
        if (replication != null) {
            refreshReplication();
        }
        return registry.scrape();
    }
}
