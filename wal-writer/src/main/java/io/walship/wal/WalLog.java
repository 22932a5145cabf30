package io.walship.wal;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.NavigableSet;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.SyncMode;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;

/**
 * The WAL as a Chronicle Queue directory ({@code DATA/wal}): one document per entry, the raw
 * bytes of {@link EntryCodec}. This class knows Chronicle's indices and cycle files; everything
 * above it speaks LSNs. Safe for one appending thread plus any number of tailers.
 */
public final class WalLog implements AutoCloseable {
    public static final String DIR_NAME = "wal";

    /** A document read from the queue: its Chronicle index and raw bytes. */
    public record RawEntry(long index, byte[] bytes) {
        /** The LSN field of the header, readable even when the rest is corrupt (-1 if too short). */
        public long headerLsn() {
            return bytes.length >= 16 ? PageFormat.getLong(bytes, 8) : -1;
        }
    }

    private final Path dir;
    private final SingleChronicleQueue queue;
    private final RollCycle rollCycle;

    public WalLog(Path dataDir, boolean readOnly, RollCycle rollCycle) {
        this.dir = dataDir.resolve(DIR_NAME);
        this.rollCycle = rollCycle == null ? RollCycles.FAST_HOURLY : rollCycle;
        if (readOnly && !Files.isDirectory(dir)) {
            throw new WalshipException(dataDir + " has no WAL directory (" + dir + ")");
        }
        SingleChronicleQueueBuilder b = SingleChronicleQueueBuilder.binary(dir.toFile())
                .rollCycle(this.rollCycle)
                .readOnly(readOnly)
                .timeoutMS(2_000);
        if (!readOnly) {
            b.syncMode(SyncMode.SYNC);
        }
        this.queue = b.build();
    }

    public Path dir() {
        return dir;
    }

    SingleChronicleQueue queue() {
        return queue;
    }

    public ExcerptTailer tailer() {
        return queue.createTailer();
    }

    /** Reads the next document, or {@code null} if none is there yet. */
    public static RawEntry read(ExcerptTailer tailer) {
        try (DocumentContext dc = tailer.readingDocument()) {
            if (!dc.isPresent()) {
                return null;
            }
            Bytes<?> bytes = dc.wire().bytes();
            byte[] data = new byte[(int) bytes.readRemaining()];
            bytes.read(data);
            return new RawEntry(dc.index(), data);
        }
    }

    /**
     * Positions {@code tailer} so that its next document is the first whose LSN is at least
     * {@code lsn} (or the end). Returns the LSN of the first entry in the log, or -1 if empty.
     */
    public long seek(ExcerptTailer tailer, long lsn) {
        long first = firstLsn(tailer);
        if (first < 0 || lsn <= first) {
            tailer.toStart();
            return first;
        }
        NavigableSet<Long> cycles = queue.listCyclesBetween(queue.firstCycle(), queue.lastCycle());
        for (Long cycle : cycles.descendingSet()) {
            long start = rollCycle.toIndex(cycle.intValue(), 0);
            long cycleFirst = lsnAt(tailer, start);
            if (cycleFirst < 0 || cycleFirst > lsn) {
                continue;
            }
            long guess = start + (lsn - cycleFirst);
            if (lsnAt(tailer, guess) == lsn) {
                tailer.moveToIndex(guess);
                return first;
            }
            // Not a dense run of LSNs (a superseded torn entry): walk the cycle.
            tailer.moveToIndex(start);
            while (true) {
                long idx = tailer.index();
                RawEntry e = read(tailer);
                if (e == null || e.headerLsn() >= lsn) {
                    tailer.moveToIndex(idx);
                    return first;
                }
            }
        }
        tailer.toStart();
        return first;
    }

    private long lsnAt(ExcerptTailer tailer, long index) {
        if (!tailer.moveToIndex(index)) {
            return -1;
        }
        RawEntry e = read(tailer);
        return e == null ? -1 : e.headerLsn();
    }

    /** LSN of the first entry still in the log, or -1 if the log is empty. */
    public long firstLsn(ExcerptTailer tailer) {
        tailer.toStart();
        RawEntry e = read(tailer);
        tailer.toStart();
        return e == null ? -1 : e.headerLsn();
    }

    /**
     * Deletes whole cycle files whose every entry has an LSN of at most {@code upToLsn}. The
     * newest cycle is always kept. Returns the number of files deleted.
     */
    public int deleteUpTo(long upToLsn) {
        NavigableSet<Long> cycles = queue.listCyclesBetween(queue.firstCycle(), queue.lastCycle());
        if (cycles.size() < 2) {
            return 0;
        }
        int deleted = 0;
        ExcerptTailer t = queue.createTailer();
        try {
            Long[] list = cycles.toArray(new Long[0]);
            for (int i = 0; i < list.length - 1; i++) {
                long nextFirst = lsnAt(t, rollCycle.toIndex(list[i + 1].intValue(), 0));
                if (nextFirst < 0 || nextFirst - 1 > upToLsn) {
                    break;
                }
                File f = cycleFile(list[i].intValue());
                if (f.exists() && f.delete()) {
                    deleted++;
                }
            }
        } finally {
            t.close();
        }
        if (deleted > 0) {
            queue.refreshDirectoryListing();
        }
        return deleted;
    }

    private File cycleFile(int cycle) {
        String name = rollCycle.format();
        java.time.format.DateTimeFormatter fmt = java.time.format.DateTimeFormatter.ofPattern(name)
                .withZone(java.time.ZoneOffset.UTC);
        long millis = (long) cycle * rollCycle.lengthInMillis() + queue.epoch();
        return dir.resolve(fmt.format(java.time.Instant.ofEpochMilli(millis)) + ".cq4").toFile();
    }

    @Override
    public void close() {
        queue.close();
    }
}
