package io.walship.wal;

/**
 * Counters of a running store, read without locks (each value is individually current).
 *
 * @param lastLsn              the last LSN applied in memory
 * @param durableLsn           the WAL is synced up to here
 * @param commits              commits made by this store since it was opened
 * @param walEntries           WAL entries appended since open (commits and applied entries)
 * @param walBytes             bytes of those entries
 * @param walSyncs             msyncs of the WAL
 * @param fullPageImages       full-page images in this store's own commits
 * @param checkpoints          checkpoints (restartpoints on a standby) completed since open
 * @param checkpointLsn        the control file's checkpoint: recovery redoes from the next LSN
 * @param poolPages            pages in the page cache now (may pass the capacity briefly, or on a
 *                             standby that may not yet write changed pages)
 * @param evictions            pages that left the cache
 * @param archiveLagBytes      WAL bytes not yet archived (0 before archiving starts)
 * @param archiveLagLsns       commits not yet archived
 * @param poolCapacityPages    the cache size in pages
 * @param poolDirtyPages       pages in the cache changed since they were last written
 * @param poolHits             page lookups served by the cache
 * @param poolMisses           page lookups that read {@code pages.dat}
 * @param evictionWrites       changed pages written to make room (a busy writer or a small cache)
 * @param checkpointWrites     changed pages written by checkpoints
 * @param snapshotsOpen        snapshots open now
 * @param snapshotBytes        before-images those snapshots keep, in bytes
 * @param snapshotsAbandoned   snapshots given up because they passed a bound
 * @param latestHorizon        the newest checkpoint horizon recorded in entries applied from a
 *                             leader or the WAL ({@link Lsn#NONE} if none)
 */
public record StoreStats(long lastLsn, long durableLsn, long commits, long walEntries, long walBytes,
                         long walSyncs, long fullPageImages, long checkpoints, long checkpointLsn,
                         int poolPages, long evictions, long archiveLagBytes, long archiveLagLsns,
                         int poolCapacityPages, int poolDirtyPages, long poolHits, long poolMisses,
                         long evictionWrites, long checkpointWrites, int snapshotsOpen, long snapshotBytes,
                         long snapshotsAbandoned, long latestHorizon) {

    /** Bytes in the page cache now. */
    public long poolBytes() {
        return (long) poolPages * PageFormat.PAGE_SIZE;
    }

    /** The cache size in bytes. */
    public long poolCapacityBytes() {
        return (long) poolCapacityPages * PageFormat.PAGE_SIZE;
    }

    /** Hits over lookups since open (1.0 before any lookup). */
    public double poolHitRatio() {
        long total = poolHits + poolMisses;
        return total == 0 ? 1.0 : (double) poolHits / total;
    }
}
