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
