package io.walship.server;

import java.time.Duration;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.walship.wal.Store;

/**
 * The leader's Prometheus metrics (Micrometer): commit, WAL and checkpoint counters read from
 * the store, and the commit latency of the writes the node takes. Thread-safe.
 */
final class LeaderMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer commitLatency;

    LeaderMetrics(Store store) {
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
    }

    Timer commitLatency() {
        return commitLatency;
    }

    String scrape() {
        return registry.scrape();
    }
}
