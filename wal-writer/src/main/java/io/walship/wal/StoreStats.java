package io.walship.wal;

/** Counters of a running store, read without locks (each value is individually current). */
public record StoreStats(long lastLsn, long durableLsn, long commits, long walEntries, long walBytes,
                         long walSyncs, long fullPageImages, long checkpoints, long checkpointLsn,
                         int poolPages, long evictions, long archiveLagBytes, long archiveLagLsns) {
}
