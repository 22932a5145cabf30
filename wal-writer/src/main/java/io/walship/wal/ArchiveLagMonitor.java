package io.walship.wal;

import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentSkipListMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How far the archive ({@code marks/archived}) is behind the WAL, and the policy past the bound
 * ({@link StoreOptions#maxArchiveLagBytes()}, {@link StoreOptions#archiveLagPolicy()}).
 *
 * <p>The writer thread counts the WAL bytes it appends ({@link #countWalBytes}) and keeps a
 * sample of (LSN, cumulative bytes) every {@code sampleBytes}; the checkpointer's tick
 * ({@link #update}) reads the archived mark and turns it into bytes and commits behind. The lag
 * is over-estimated by at most one sampling step (1/16 of the bound, 4 KiB..1 MiB). Without an
 * archived mark archiving has not started and there is no lag to bound.
 *
 * <p>Thread-safe: {@link #countWalBytes} on the writer thread only, {@link #update} on one
 * thread at a time (the checkpointer); the results are volatile and read without locks.
 */
final class ArchiveLagMonitor {
    private static final Logger LOG = LoggerFactory.getLogger(Store.class);
    private static final long LOG_EVERY_NANOS = 60_000_000_000L;

    private final WalMarks marks;
    private final StoreOptions options;
    /** Sampling step: the lag is over-estimated by at most this much. */
    private final long sampleBytes;
    static final int MAX_SAMPLES = 8192;
    private final ConcurrentSkipListMap<Long, Long> walBytesAtLsn = new ConcurrentSkipListMap<>();
    // writer thread (volatile: read by update)
    private volatile long walBytesTotal;
    private long lastSampleBytes;
    // update() only
    private long lastLogNanos;
    private volatile long lagBytes;
    private volatile long lagLsns;
    private volatile boolean refusing;

    ArchiveLagMonitor(WalMarks marks, StoreOptions options) {
        this.marks = marks;
        this.options = options;
        this.sampleBytes = Math.max(4096, Math.min(1L << 20, options.maxArchiveLagBytes() / 16));
    }

    /** Writer thread: an entry of {@code bytes} bytes with LSN {@code lsn} was appended. */
    void countWalBytes(long lsn, int bytes) {
        long total = walBytesTotal + bytes;
        walBytesTotal = total;
        if (total - lastSampleBytes >= sampleBytes || walBytesAtLsn.isEmpty()) {
            walBytesAtLsn.put(lsn, total);
            lastSampleBytes = total;
            if (walBytesAtLsn.size() > MAX_SAMPLES) {
                thinSamples();
            }
        }
    }

    /**
     * Keeps the sample map bounded while nothing trims it (no archive mark yet, or an archive far
     * behind): drops every other sample but the newest, so the lag estimate gets coarser, older samples more so (it is
     * taken from the nearest sample at or before the archived LSN, so it only errs high) instead
     * of the map growing by one entry per MiB of WAL forever.
     */
    private void thinSamples() {
        boolean drop = false;
        Long newest = walBytesAtLsn.lastKey();
        for (Long k : walBytesAtLsn.keySet()) {
            if (drop && !k.equals(newest)) {
                walBytesAtLsn.remove(k);
            }
            drop = !drop;
        }
    }

    int samples() {
        return walBytesAtLsn.size();
    }

    /** Re-reads the archived mark and applies the policy; {@code lastLsn} is the store's last LSN. */
    void update(long lastLsn) {
        OptionalLong archived = marks.archived();
        if (archived.isEmpty()) {
            lagBytes = 0;
            lagLsns = 0;
            refusing = false;
            return;
        }
        long a = archived.getAsLong();
        if (a >= lastLsn) {
            lagBytes = 0;
            lagLsns = 0;
        } else {
            Map.Entry<Long, Long> base = walBytesAtLsn.floorEntry(a);
            lagBytes = walBytesTotal - (base == null ? 0 : base.getValue());
            lagLsns = lastLsn - a;
            if (base != null) {
                walBytesAtLsn.headMap(base.getKey(), false).clear();
            }
        }
        boolean over = lagBytes > options.maxArchiveLagBytes();
        boolean refuse = over && options.archiveLagPolicy() == StoreOptions.ArchiveLagPolicy.REFUSE_WRITES;
        if (over && System.nanoTime() - lastLogNanos > LOG_EVERY_NANOS) {
            lastLogNanos = System.nanoTime();
            LOG.error("the archive is {} MiB ({} commits) behind, over the bound of {} MiB: {}; is the shipper running?",
                    lagBytes >> 20, lagLsns, options.maxArchiveLagBytes() >> 20,
                    refuse ? "REFUSING WRITES until it catches up" : "writes go on and the WAL is kept");
        }
        if (refusing && !refuse) {
            LOG.info("the archive caught up ({} MiB behind); accepting writes again", lagBytes >> 20);
        }
        refusing = refuse;
    }

    /** Throws if the policy refuses writes now. */
    void checkWritesAllowed() {
        if (refusing) {
            throw new WritesRefusedException("writes refused: the archive is " + (lagBytes >> 20) + " MiB behind, over the"
                    + " bound of " + (options.maxArchiveLagBytes() >> 20)
                    + " MiB (policy refuse-writes); start or fix the shipper");
        }
    }

    long lagBytes() {
        return lagBytes;
    }

    long lagLsns() {
        return lagLsns;
    }
}
