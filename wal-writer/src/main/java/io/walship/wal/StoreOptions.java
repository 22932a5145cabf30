package io.walship.wal;

import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;

/**
 * How a {@link Store} runs. Immutable; start from {@link #defaults()} and use the withers.
 *
 * @param cacheBytes           size of the page cache (the buffer pool) in bytes; the pool holds
 *                             {@code cacheBytes / 4096} pages ({@link #poolPages()}), at least 64
 * @param checkpointWalBytes   checkpoint after this much WAL since the last one
 * @param checkpointInterval   ...or after this long, whichever comes first
 * @param asyncFlushMillis     how soon a non-durable commit is synced at the latest
 * @param rollCycle            Chronicle Queue cycle: the unit in which old WAL is deleted; for a new WAL only
 *                             (an existing one keeps the cycle it was made with, from its metadata)
 * @param retentionNeedsArchive delete WAL only once the archive mark has passed it
 * @param maxArchiveLagBytes   how much WAL may wait for the archive (once archiving has started)
 * @param archiveLagPolicy     what happens past that bound
 * @param snapshotMaxBytes     before-images one open snapshot may keep, in bytes; 0 means a
 *                             quarter of the cache ({@link #snapshotByteLimit()})
 * @param snapshotMaxAge       how long a snapshot may stay open
 * @param clock                commit times and snapshot ages are read from it
 * @param walCompression       how full-page images are compressed in the WAL this store writes
 *                             (its own commits and, on a replica, the entries it receives)
 */
public record StoreOptions(long cacheBytes, long checkpointWalBytes, Duration checkpointInterval,
                           long asyncFlushMillis, RollCycle rollCycle, boolean retentionNeedsArchive,
                           long maxArchiveLagBytes, ArchiveLagPolicy archiveLagPolicy,
                           long snapshotMaxBytes, Duration snapshotMaxAge, Clock clock,
                           WalCompression walCompression) {

    /** The smallest cache: 64 pages. */
    public static final long MIN_CACHE_BYTES = 64L * PageFormat.PAGE_SIZE;
    public static final long DEFAULT_CACHE_BYTES = 256L << 20;
    /** Full-page images are not compressed unless asked (docs/BENCHMARKS.md, "WAL size", says why). */
    public static final WalCompression DEFAULT_WAL_COMPRESSION = WalCompression.NONE;

    /** What the store does when more WAL than {@code maxArchiveLagBytes} is waiting to be archived. */
    public enum ArchiveLagPolicy {
        /** Commits fail ("the archive is too far behind") until the shipper catches up. */
        REFUSE_WRITES,
        /** Commits go on; the store logs an error every minute and reports the lag. WAL is kept. */
        KEEP_GOING
    }

    public StoreOptions {
        Objects.requireNonNull(checkpointInterval, "checkpointInterval");
        Objects.requireNonNull(archiveLagPolicy, "archiveLagPolicy");
        Objects.requireNonNull(snapshotMaxAge, "snapshotMaxAge");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(walCompression, "walCompression");
        if (cacheBytes < MIN_CACHE_BYTES || cacheBytes / PageFormat.PAGE_SIZE > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cache size of " + cacheBytes + " bytes is out of range: it must be at"
                    + " least " + (MIN_CACHE_BYTES >> 10) + " KiB (64 pages of 4 KiB)");
        }
        if (snapshotMaxBytes < 0) {
            throw new IllegalArgumentException("snapshot limit of " + snapshotMaxBytes + " bytes is negative");
        }
        if (snapshotMaxAge.isNegative() || snapshotMaxAge.isZero()) {
            throw new IllegalArgumentException("snapshot age limit " + snapshotMaxAge + " must be positive");
        }
    }

    /**
     * 256 MiB of cache, a checkpoint every 64 MiB of WAL or 5 minutes, snapshots bounded to a
     * quarter of the cache in before-images and 6 hours open.
     */
    public static StoreOptions defaults() {
        return new StoreOptions(DEFAULT_CACHE_BYTES, 64L << 20, Duration.ofMinutes(5), 50, RollCycles.FAST_HOURLY,
                true, 1L << 30, ArchiveLagPolicy.KEEP_GOING, 0, Duration.ofHours(6), Clock.systemUTC(), DEFAULT_WAL_COMPRESSION);
    }

    /** Pages the buffer pool holds: the cache size in 4 KiB pages. */
    public int poolPages() {
        return (int) (cacheBytes / PageFormat.PAGE_SIZE);
    }

    /** The before-image bound of one snapshot in bytes ({@code snapshotMaxBytes}, or a quarter of the cache). */
    public long snapshotByteLimit() {
        return snapshotMaxBytes > 0 ? snapshotMaxBytes : Math.max(PageFormat.PAGE_SIZE, cacheBytes / 4);
    }

    /** The page cache size in bytes (at least 256 KiB). */
    public StoreOptions withCacheSize(long bytes) {
        return new StoreOptions(bytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    /**
     * The page cache size as text, as a CLI flag or config file gives it: {@code 512MiB},
     * {@code 2GiB}, {@code 262144} (bytes); see {@link Units#bytes}.
     *
     * @throws IllegalArgumentException naming the text if it is not a size or is below 256 KiB
     */
    public StoreOptions withCacheSize(String size) {
        return withCacheSize(parseCacheSize(size));
    }

    /**
     * A page cache size given as text ({@link #withCacheSize(String)}) in bytes: the one check of
     * every command's {@code --cache-size} (the leader's page cache, a restore's replay pool).
     *
     * @throws IllegalArgumentException naming the text if it is not a size, is below 256 KiB or above 8 TiB
     */
    public static long parseCacheSize(String size) {
        long bytes = Units.bytes(size);
        if (bytes < MIN_CACHE_BYTES) {
            throw new IllegalArgumentException("cache size '" + size + "' is below the minimum of "
                    + (MIN_CACHE_BYTES >> 10) + " KiB (64 pages of 4 KiB)");
        }
        if (bytes / PageFormat.PAGE_SIZE > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("cache size '" + size + "' is above the maximum of 8 TiB");
        }
        return bytes;
    }

    /** The page cache size in 4 KiB pages. */
    public StoreOptions withPoolPages(int pages) {
        return withCacheSize((long) pages * PageFormat.PAGE_SIZE);
    }

    /** How soon a non-durable commit is synced at the latest. */
    public StoreOptions withAsyncFlushMillis(long millis) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, millis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    public StoreOptions withArchiveLag(long maxBytes, ArchiveLagPolicy policy) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxBytes, policy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    public StoreOptions withCheckpoint(long walBytes, Duration interval) {
        return new StoreOptions(cacheBytes, walBytes, interval, asyncFlushMillis, rollCycle, retentionNeedsArchive,
                maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    public StoreOptions withRollCycle(RollCycle cycle) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, cycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    public StoreOptions withRetentionNeedsArchive(boolean needsArchive) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                needsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, walCompression);
    }

    /**
     * Bounds on one open snapshot: past {@code maxBytes} of before-images kept for it (0: a
     * quarter of the cache) or {@code maxAge} open, it is abandoned and its reader gets a
     * {@link SnapshotAbandonedException}.
     */
    public StoreOptions withSnapshotLimits(long maxBytes, Duration maxAge) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, maxBytes, maxAge, clock, walCompression);
    }

    /** The clock commit times and snapshot ages are read from (tests inject one). */
    public StoreOptions withClock(Clock c) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, c, walCompression);
    }

    /** How full-page images are compressed in the WAL this store writes from now on. */
    public StoreOptions withWalCompression(WalCompression c) {
        return new StoreOptions(cacheBytes, checkpointWalBytes, checkpointInterval, asyncFlushMillis, rollCycle,
                retentionNeedsArchive, maxArchiveLagBytes, archiveLagPolicy, snapshotMaxBytes, snapshotMaxAge, clock, c);
    }
}
