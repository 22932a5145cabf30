package io.walship.wal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

import net.openhft.chronicle.queue.ExcerptTailer;

/**
 * Iterates WAL entries in LSN order from any LSN and follows new ones as they are written; works
 * from another process reading the same data directory (the queue is opened read-only).
 *
 * <p>Every entry is verified (checksum, format version) and LSNs must run on without a gap.
 * One exception, the torn tail: a corrupt entry left by a crash is superseded when the recovered
 * leader writes the next entry with the LSN it should have had. A corrupt entry followed by
 * anything else is reported, never skipped. Not thread-safe: one reader per thread.
 */
public final class WalReader implements AutoCloseable {
    private final WalLog log;
    private final boolean ownsLog;
    private final ExcerptTailer tailer;
    private long expected = -1;
    private String pendingCorruption;
    private byte[] lastRaw;
    private boolean headersOnly;

    /** Opens the WAL of {@code dataDir} read-only (the leader may be running in another process). */
    public static WalReader open(Path dataDir) {
        return new WalReader(new WalLog(dataDir, true, null), true);
    }

    WalReader(WalLog log, boolean ownsLog) {
        this.log = log;
        this.ownsLog = ownsLog;
        this.tailer = log.tailer();
    }

    /**
     * Positions the reader so that {@link #next} returns the entry with LSN {@code lsn}.
     *
     * @throws WalNoLongerAvailableException if that entry has been deleted
     */
    public WalReader seek(long lsn) {
        long first = log.seek(tailer, lsn);
        if (first >= 0 && lsn < first) {
            throw new WalNoLongerAvailableException(lsn, first);
        }
        expected = lsn;
        pendingCorruption = null;
        return this;
    }

    /**
     * From now on {@link #next} verifies each entry fully but returns it without its page changes
     * (use {@link #lastEntryBytes} for the bytes): for shippers, which pass entries on.
     */
    public WalReader headersOnly() {
        headersOnly = true;
        return this;
    }

    /** LSN of the oldest entry still on disk, or -1 if the WAL is empty. */
    public long firstAvailableLsn() {
        ExcerptTailer t = log.tailer();
        try {
            return log.firstLsn(t);
        } finally {
            t.close();
        }
    }

    /** True if the last thing read was a corrupt entry not (yet) superseded: a torn tail. */
    public boolean atTornTail() {
        return pendingCorruption != null;
    }

    public String tornTailDescription() {
        return pendingCorruption;
    }

    /** The next entry, or {@code null} if there is none yet. */
    public WalEntry next() {
        while (true) {
            WalLog.RawEntry raw = WalLog.read(tailer);
            if (raw == null) {
                return null;
            }
            WalEntry entry;
            try {
                entry = headersOnly ? EntryCodec.verifyHeader(raw.bytes()) : EntryCodec.decode(raw.bytes());
            } catch (FormatVersionException e) {
                throw e;
            } catch (IntegrityException e) {
                if (pendingCorruption != null) {
                    throw new IntegrityException("two corrupt WAL entries in a row after LSN " + Lsn.format(expected - 1)
                            + ": " + pendingCorruption + "; " + e.getMessage());
                }
                pendingCorruption = e.getMessage() + " (queue index " + Long.toHexString(raw.index()) + ")";
                continue;
            }
            if (expected >= 0 && entry.lsn() != expected) {
                String what = entry.lsn() > expected
                        ? "gap in the WAL: expected LSN " + Lsn.format(expected) + " but found " + Lsn.format(entry.lsn())
                        : "WAL out of order: expected LSN " + Lsn.format(expected) + " but found " + Lsn.format(entry.lsn());
                throw new IntegrityException(pendingCorruption == null ? what : pendingCorruption + "; " + what);
            }
            pendingCorruption = null;
            expected = entry.lsn() + 1;
            lastRaw = raw.bytes();
            return entry;
        }
    }

    /** The verified bytes of the entry {@link #next} returned last, exactly as the WAL holds them. */
    public byte[] lastEntryBytes() {
        return lastRaw;
    }

    /** Waits up to {@code timeout} for the next entry; {@code null} if none arrived. */
    public WalEntry poll(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long park = 20_000;
        while (true) {
            WalEntry e = next();
            if (e != null || System.nanoTime() >= deadline) {
                return e;
            }
            LockSupport.parkNanos(park);
            park = Math.min(park * 2, 5_000_000);
        }
    }

    @Override
    public void close() {
        tailer.close();
        if (ownsLog) {
            log.close();
        }
    }
}
