package io.walship.wal;

import java.time.Duration;

import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;

/**
 * How a {@link Store} runs. Immutable; start from {@link #defaults()} and use the withers.
 *
 * @param poolPages            pages kept in memory (4 KiB each)
 * @param checkpointWalBytes   checkpoint after this much WAL since the last one
 * @param checkpointInterval   ...or after this long, whichever comes first
 * @param asyncFlushMillis     how soon a non-durable commit is synced at the latest
 * @param rollCycle            Chronicle Queue cycle: the unit in which old WAL is deleted
 * @param retentionNeedsArchive delete WAL only once the archive mark has passed it
 * @param maxArchiveLagBytes   how much WAL may wait for the archive (once archiving has started)
 * @param archiveLagPolicy     what happens past that bound
 */
public record StoreOptions(int poolPages, long checkpointWalBytes, Duration checkpointInterval,
                           long asyncFlushMillis, RollCycle rollCycle, boolean retentionNeedsArchive,
                           long maxArchiveLagBytes, ArchiveLagPolicy archiveLagPolicy) {

    /** What the store does when more WAL than {@code maxArchiveLagBytes} is waiting to be archived. */
    public enum ArchiveLagPolicy {
        /** Commits fail ("the archive is too far behind") until the shipper catches up. */
        REFUSE_WRITES,
        /** Commits go on; the store logs an error every minute and reports the lag. WAL is kept. */
        KEEP_GOING
    }

    public static StoreOptions defaults() {
        return new StoreOptions(65_536, 64L << 20, Duration.ofMinutes(5), 50, RollCycles.FAST_HOURLY, true,
                1L << 30, ArchiveLagPolicy.KEEP_GOING);
    }

    public StoreOptions withArchiveLag(long maxBytes, ArchiveLagPolicy policy) {
        return new StoreOptions(poolPages, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxBytes, policy);
    }

    public StoreOptions withPoolPages(int pages) {
        return new StoreOptions(pages, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy);
    }

    public StoreOptions withCheckpoint(long walBytes, Duration interval) {
        return new StoreOptions(poolPages, walBytes, interval, asyncFlushMillis, rollCycle, retentionNeedsArchive,
                maxArchiveLagBytes, archiveLagPolicy);
    }

    public StoreOptions withRollCycle(RollCycle cycle) {
        return new StoreOptions(poolPages, checkpointWalBytes, checkpointInterval, asyncFlushMillis, cycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy);
    }

    public StoreOptions withRetentionNeedsArchive(boolean needsArchive) {
        return new StoreOptions(poolPages, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                needsArchive, maxArchiveLagBytes, archiveLagPolicy);
    }
}
