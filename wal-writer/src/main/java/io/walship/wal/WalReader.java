package io.walship.wal;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

import net.openhft.chronicle.queue.ExcerptTailer;

/**
 * Iterates WAL entries in LSN order from any LSN and follows new ones as they become durable;
 * works from another process reading the same data directory (the queue is opened read-only).
 *
 * <p><b>Only durable entries.</b> The reader never returns an entry past the WAL's durable LSN:
 * after a power loss the leader recovers to the last durable entry and writes new entries under
 * the LSNs that followed, so an entry shipped before it was durable could belong to a history
 * that no longer exists. In the writer's process ({@link Store#walReader()}) the bound is the
 * commit pipeline's durable LSN; from another process ({@link #open}) it is the durable point the
 * writer publishes after each sync ({@code DATA/durable-point}), or the checkpoint LSN while
 * there is none. When no writer runs, entries written after the last published point (a
 * kill -9) stay invisible until the next open of the store makes them durable and publishes them.
 *
 * <p>Every entry is verified (checksum, format version) and LSNs must run on without a gap; a
 * corrupt entry at or below the durable LSN is reported, never skipped. One exception, for WALs
 * written before walship cut torn tails off: a corrupt entry immediately superseded by an entry
 * with the LSN it should have had is skipped. When recovery cuts a torn tail off (a new WAL
 * generation in the durable point), a reader in another process reopens the queue and goes on
 * from the LSN it expects next, so it never reads the stale entries that were cut off.
 *
 * <p>Not thread-safe: one reader per thread.
 */
public final class WalReader implements AutoCloseable {
    /** Where the reader's bound comes from: the durable LSN and the WAL generation. */
    private interface Bound extends AutoCloseable {
        long lsn();

        long generation();

        /** Whether {@link #lsn} is the WAL's whole durable end (see {@link WalReader#durableLsnSettled}). */
        default boolean settled() {
            return true;
        }

        @Override
        void close();
    }

    private final Path dataDir;
    private final Bound bound;
    private WalLog log;
    private ExcerptTailer tailer;
    private final boolean ownsLog;
    private long expected = -1;
    private long boundLsn;
    private long generation;
    private byte[] lastRaw;
    private boolean headersOnly;

    /**
     * Opens the WAL of {@code dataDir} read-only (the leader may be running in another process).
     * The reader returns entries up to the durable point the leader publishes.
     */
    public static WalReader open(Path dataDir) {
        CrossProcessBound b = new CrossProcessBound(dataDir);
        try {
            return new WalReader(dataDir, new WalLog(dataDir, true, null), true, b);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
    }

    /** A reader over an open WAL, bounded by {@code durableLsn} (the store's own readers). */
    WalReader(WalLog log, LongSupplier durableLsn) {
        this(null, log, false, new Bound() {
            @Override
            public long lsn() {
                return durableLsn.getAsLong();
            }

            @Override
            public long generation() {
                return 0;
            }

            @Override
            public void close() {
                // nothing held
            }
        });
    }

    private WalReader(Path dataDir, WalLog log, boolean ownsLog, Bound bound) {
        this.dataDir = dataDir;
        this.log = log;
        this.ownsLog = ownsLog;
        this.bound = bound;
        this.tailer = log.tailer();
        this.boundLsn = bound.lsn();
        this.generation = bound.generation();
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
        return this;
    }

    /** The log this reader reads (tests measure {@link WalLog#seek}'s cost on it). */
    WalLog log() {
        return log;
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

    /** The durable LSN the reader is bounded by (as last seen). */
    public long durableLsn() {
        refreshBound();
        return boundLsn;
    }

    /**
     * Whether {@link #durableLsn} is known to be the WAL's whole durable end: true for the store's
     * own readers, and for another process's durable point that its writer closed cleanly or wrote
     * during this boot of the machine. False for one left by a writer that stopped before a
     * restart (a power loss: the file may lag behind what was synced, until the next open's
     * recovery rewrites it) or when there is none (the checkpoint LSN stands in): entries past
     * {@code durableLsn} may then be durable, archived even, and become readable after recovery.
     */
    public boolean durableLsnSettled() {
        return bound.settled();
    }

    /**
     * True if the reader has stopped at the durable LSN while the WAL already holds the next
     * entry, not yet durable (or, with no writer running, not yet recovered).
     */
    public boolean atTornTail() {
        if (expected < 0 || expected <= boundLsn) {
            return false;
        }
        long idx = tailer.index();
        WalLog.RawEntry raw = WalLog.read(tailer);
        if (raw != null) {
            tailer.moveToIndex(raw.index());
        } else {
            tailer.moveToIndex(idx);
        }
        return raw != null;
    }

    /** What {@link #atTornTail} found, for messages. */
    public String tornTailDescription() {
        return "entries from LSN " + Lsn.format(expected) + " on are in the WAL but not durable yet (durable up to LSN "
                + Lsn.format(boundLsn) + ")";
    }

    /**
     * Where {@link #next(Sink)} puts an entry's bytes: an array with room for them at an offset the
     * sink chooses (a segment body being built), so an entry is copied once, from the WAL's mapped
     * file to where it is going, and no array is made for it.
     */
    public interface Sink {
        /** An array with at least {@code len} bytes free from {@link #offset} on (the sink may grow it now). */
        byte[] room(int len);

        /** Where in the array {@link #room} returned the entry goes. */
        int offset();
    }

    /**
     * As {@link #next()} with {@link #headersOnly}, but the entry's verified bytes are left in
     * {@code sink} ({@link WalEntry#encodedSize} of them at its offset) instead of an array of their
     * own; {@link #lastEntryBytes} is then not set. The sink's bytes past its offset may also be
     * overwritten when null is returned or an exception thrown. The same checks as {@link #next()}.
     */
    public WalEntry next(Sink sink) {
        java.util.Objects.requireNonNull(sink, "sink");
        return nextEntry(sink);
    }

    /** The next durable entry, or {@code null} if there is none yet. */
    public WalEntry next() {
        return nextEntry(null);
    }

    private final long[] indexOut = new long[1];

    /** A document read into a sink: its bytes are the sink's, {@code len} at its offset. */
    private WalLog.RawEntry readDoc(Sink sink) {
        if (sink == null) {
            return WalLog.read(tailer);
        }
        int len = WalLog.readInto(tailer, sink, indexOut);
        return len < 0 ? null : new WalLog.RawEntry(indexOut[0], null, len);
    }

    private WalEntry nextEntry(Sink sink) {
        if (expected < 0) {
            // Not sought: read from the WAL's start, found on this reader's own tailer, which also goes
            // there. Chronicle put it at the start when it was made, which retention may have deleted
            // since (expected from another tailer, read from this one: a false "out of order").
            long first = log.firstLsn(tailer);
            if (first < 0) {
                return null;
            }
            expected = first;
        }
        if (expected > boundLsn) {
            refreshBound();
            if (expected > boundLsn) {
                return null;
            }
        }
        WalLog.RawEntry raw = readDoc(sink);
        if (raw == null) {
            return null;
        }
        WalEntry entry;
        try {
            entry = verify(raw, sink);
        } catch (FormatVersionException e) {
            throw e;
        } catch (IntegrityException e) {
            if (reopenIfCut()) {
                return nextEntry(sink);
            }
            WalLog.RawEntry after = readDoc(sink);
            entry = after == null ? null : verifyOrNull(after, sink);
            if (entry == null || entry.lsn() != expected) {
                throw new IntegrityException("corrupt WAL entry where LSN " + Lsn.format(expected) + " belongs (durable"
                        + " up to LSN " + Lsn.format(boundLsn) + "): " + e.getMessage() + " (queue index "
                        + Long.toHexString(raw.index()) + ")");
            }
            raw = after; // superseded (a WAL written before torn tails were cut off)
        }
        if (entry.lsn() != expected) {
            if (reopenIfCut()) {
                return nextEntry(sink);
            }
            throw new IntegrityException(entry.lsn() > expected
                    ? "gap in the WAL: expected LSN " + Lsn.format(expected) + " but found " + Lsn.format(entry.lsn())
                    : "WAL out of order: expected LSN " + Lsn.format(expected) + " but found " + Lsn.format(entry.lsn()));
        }
        expected = entry.lsn() + 1;
        lastRaw = raw.bytes();
        return entry;
    }

    private WalEntry verify(WalLog.RawEntry raw, Sink sink) {
        if (sink != null) {
            return EntryCodec.verifyHeader(sink.room(raw.length()), sink.offset(), raw.length());
        }
        return headersOnly ? EntryCodec.verifyHeader(raw.bytes()) : EntryCodec.decode(raw.bytes());
    }

    private WalEntry verifyOrNull(WalLog.RawEntry raw, Sink sink) {
        try {
            return verify(raw, sink);
        } catch (IntegrityException e) {
            return null;
        }
    }

    /** Re-reads the bound (and reopens the queue if the WAL was cut since). */
    private void refreshBound() {
        long b = bound.lsn();
        if (!reopenIfCut()) {
            boundLsn = Math.max(boundLsn, b);
        }
    }

    /**
     * If the writer's recovery cut a torn tail off since this reader opened the queue, the files
     * this reader has mapped may be the set-aside originals: open the queue again and go on from
     * the expected LSN. Returns whether it did.
     */
    private boolean reopenIfCut() {
        long b = bound.lsn();
        long g = bound.generation();
        if (g == generation || !ownsLog) {
            return false;
        }
        tailer.close();
        log.close();
        log = new WalLog(dataDir, true, null);
        tailer = log.tailer();
        generation = g;
        boundLsn = b;
        if (expected >= 0) {
            seek(expected);
        }
        return true;
    }

    /** The verified bytes of the entry {@link #next} returned last, exactly as the WAL holds them. */
    public byte[] lastEntryBytes() {
        return lastRaw;
    }

    /**
     * Waits up to {@code timeout} for the next entry; {@code null} if none arrived. On an interrupted
     * thread it does not wait: it returns the next entry if there is one, else {@code null}, and the
     * interrupt stays set (a park would end at once, so waiting would only spin).
     */
    public WalEntry poll(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long park = 20_000;
        while (true) {
            WalEntry e = next();
            if (e != null || System.nanoTime() >= deadline || Thread.currentThread().isInterrupted()) {
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
        bound.close();
    }

    /** The durable point another process publishes, or the checkpoint LSN while there is none. */
    private static final class CrossProcessBound implements Bound {
        private final Path dataDir;
        private final DurablePoint.Reader reader;
        private final long checkpoint;
        private long generation;

        CrossProcessBound(Path dataDir) {
            this.dataDir = dataDir;
            this.reader = new DurablePoint.Reader(dataDir);
            long cp = 0;
            if (ControlFile.exists(dataDir)) {
                cp = ControlFile.read(dataDir).checkpointLsn();
            }
            this.checkpoint = cp;
        }

        @Override
        public long lsn() {
            Optional<DurablePoint.Value> v = reader.read();
            if (v.isEmpty()) {
                return checkpoint;
            }
            generation = v.get().generation();
            return Math.max(checkpoint, v.get().lsn());
        }

        @Override
        public boolean settled() {
            // the same trust recovery gives the file (Recovery: metadataTrusted)
            return reader.read().map(v -> v.clean() || v.thisBoot()).orElse(false);
        }

        @Override
        public long generation() {
            return generation;
        }

        @Override
        public void close() {
            reader.close();
        }

        @Override
        public String toString() {
            return "durable point of " + dataDir;
        }
    }
}
