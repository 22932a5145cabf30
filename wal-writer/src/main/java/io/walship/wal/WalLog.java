package io.walship.wal;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.NavigableSet;

import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.MappedBytes;
import net.openhft.chronicle.core.time.TimeProvider;
import net.openhft.chronicle.queue.ExcerptTailer;
import net.openhft.chronicle.queue.RollCycle;
import net.openhft.chronicle.queue.RollCycles;
import net.openhft.chronicle.queue.TailerState;
import net.openhft.chronicle.queue.impl.RollingResourcesCache;
import net.openhft.chronicle.queue.impl.single.MissingStoreFileException;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueue;
import net.openhft.chronicle.queue.impl.single.SingleChronicleQueueBuilder;
import net.openhft.chronicle.wire.DocumentContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The WAL as a Chronicle Queue directory ({@code DATA/wal}): one document per entry, the raw
 * bytes of {@link EntryCodec}. This class knows Chronicle's indices and cycle files; everything
 * above it speaks LSNs. Safe for one appending thread plus any number of tailers.
 *
 * <p>The queue is opened without a Chronicle sync mode: Chronicle's msync reports failures only
 * in its log, so the store syncs cycle files itself ({@link WalSync}); with a sync mode Chronicle
 * would also msync every chunk it releases, on the writer thread.
 */
public final class WalLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WalLog.class);
    private final java.util.concurrent.atomic.AtomicLong seekReads = new java.util.concurrent.atomic.AtomicLong();
    public static final String DIR_NAME = "wal";
    /** Chronicle's append locks in the queue's table store ({@code TableStoreWriteLock}) and their free value. */
    private static final List<String> CHRONICLE_LOCK_KEYS = List.of("chronicle.write.lock", "chronicle.append.lock");
    private static final long UNLOCKED = Long.MIN_VALUE;
    /** How Chronicle's {@code listCyclesBetween} says the first cycle's file is gone ({@code StoreSupplier.toKey}). */
    private static final String LOWER_CYCLE_GONE = "'file not found' for the lowerCycle";
    /** How Chronicle's {@code toStart} says it could not open the first cycle's file (gone, or damaged). */
    private static final String MISSING_FIRST_STORE = "Missing first store file";
    private static final java.util.regex.Pattern CYCLE_NAMED = java.util.regex.Pattern.compile("cycle=(-?\\d+)");
    /** Seeks in a row that may find the WAL's start moved on by retention before one gives up. */
    private static final int RACE_ATTEMPTS = 5;

    /**
     * A document read from the queue: its Chronicle index and raw bytes ({@code length} of them;
     * {@code bytes} is null for a document read into a {@link WalReader.Sink}).
     */
    public record RawEntry(long index, byte[] bytes, int length) {
        /** A document read into an array of its own. */
        public RawEntry(long index, byte[] bytes) {
            this(index, bytes, bytes.length);
        }

        /** The LSN field of the header, readable even when the rest is corrupt (-1 if too short). */
        public long headerLsn() {
            return bytes != null && bytes.length >= 16 ? PageFormat.getLong(bytes, 8) : -1;
        }
    }

    /**
     * A document and where it lies: its cycle file and the byte range of its body in that file
     * (the 4-byte Chronicle header sits just before {@code start}).
     */
    record Located(long index, byte[] bytes, Path file, long start, long end) {
        RawEntry raw() {
            return new RawEntry(index, bytes);
        }
    }

    /** Where the WAL ends: the next document goes at {@code position} of {@code file}, cycle {@code cycle}. */
    record End(Path file, int cycle, long position) {
    }

    /** A cycle file and its cycle number. */
    record CycleFile(int cycle, Path path) {
    }

    private final Path dir;
    private final SingleChronicleQueue queue;
    private final RollCycle rollCycle;
    private final WalClock clock;
    /** Names cycle files ({@link #cycleFile}); built once, a seek names several. */
    private final DateTimeFormatter cycleNames;

    public WalLog(Path dataDir, boolean readOnly, RollCycle rollCycle) {
        this(dataDir, readOnly, rollCycle, null);
    }

    /** {@code time}: where the clock that picks cycle files reads the time (null: the system clock). */
    WalLog(Path dataDir, boolean readOnly, RollCycle rollCycle, TimeProvider time) {
        this.dir = dataDir.resolve(DIR_NAME);
        this.clock = new WalClock(time);
        if (readOnly && !Files.isDirectory(dir)) {
            throw new WalshipException(dataDir + " has no WAL directory (" + dir + ")");
        }
        this.queue = SingleChronicleQueueBuilder.binary(dir.toFile())
                .rollCycle(rollCycle == null ? RollCycles.FAST_HOURLY : rollCycle)
                .readOnly(readOnly)
                .timeProvider(clock)
                .timeoutMS(2_000)
                .build();
        // an existing queue keeps the cycle it was made with (Chronicle takes it from its metadata,
        // whatever was asked): indices and file names must be computed with that one, or a seek in a
        // WAL of another cycle (WalReader.open is told none) lands nowhere and reads from the start
        this.rollCycle = queue.rollCycle();
        this.cycleNames = DateTimeFormatter.ofPattern(this.rollCycle.format()).withZone(ZoneOffset.UTC);
    }

    public Path dir() {
        return dir;
    }

    SingleChronicleQueue queue() {
        return queue;
    }

    RollCycle rollCycle() {
        return rollCycle;
    }

    WalClock clock() {
        return clock;
    }

    /** The cycle an append made now would go to. */
    int cycleNow() {
        return queue.cycle();
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
     * Reads the next document straight into {@code into} (no array of its own), at
     * {@link WalReader.Sink#offset()} of the array {@link WalReader.Sink#room} returns; returns its
     * length, or -1 if none is there yet. {@code index[0]} is set to its queue index.
     */
    static int readInto(ExcerptTailer tailer, WalReader.Sink into, long[] index) {
        try (DocumentContext dc = tailer.readingDocument()) {
            if (!dc.isPresent()) {
                return -1;
            }
            Bytes<?> bytes = dc.wire().bytes();
            int len = (int) bytes.readRemaining();
            byte[] to = into.room(len);
            bytes.read(to, into.offset(), len);
            index[0] = dc.index();
            return len;
        }
    }

    /** Reads the next document with its place in its cycle file, or {@code null} if none is there yet. */
    static Located readLocated(ExcerptTailer tailer) {
        try (DocumentContext dc = tailer.readingDocument()) {
            if (!dc.isPresent()) {
                return null;
            }
            Bytes<?> bytes = dc.wire().bytes();
            long start = bytes.readPosition();
            long end = bytes.readLimit();
            Path file = bytes instanceof MappedBytes mb ? mb.mappedFile().file().toPath() : null;
            byte[] data = new byte[(int) bytes.readRemaining()];
            bytes.read(data);
            return new Located(dc.index(), data, file, start, end);
        }
    }

    /**
     * Positions {@code tailer} so that its next document is the first whose LSN is at least
     * {@code lsn} (or the end). Returns the LSN of the first entry in the log, or -1 if empty.
     */
    public long seek(ExcerptTailer tailer, long lsn) {
        for (int attempt = 1; ; attempt++) {
            long first = firstLsn(tailer);
            if (first < 0 || lsn <= first) {
                toStart(tailer);
                return first;
            }
            NavigableSet<Long> cycles = cycles();
            seekHook.run();
            if (seekIn(cycles, tailer, lsn)) {
                return first;
            }
            // No cycle file listed holds an entry at or below lsn, though the first entry was below it:
            // retention deleted the files listed after they were listed (or they are damaged). If the
            // WAL's start has moved on, seek again from it: the caller then sees the LSN sought is gone,
            // where reading on from the start would have found a gap.
            long now = firstLsn(tailer);
            if (now == first) {
                toStart(tailer); // the same start: read from it; the reader's checks say what is wrong there
                return first;
            }
            if (attempt == RACE_ATTEMPTS) {
                throw new WalshipException("seeking LSN " + Lsn.format(lsn) + " in " + dir + ": its start kept moving ("
                        + RACE_ATTEMPTS + " times, now LSN " + Lsn.format(now) + ") as WAL files were deleted under"
                        + " the seek; try again");
            }
        }
    }

    /**
     * Positions {@code tailer} at the first entry of {@code cycles} with an LSN of at least
     * {@code lsn}, or just after the last entry; false if no cycle read holds an entry at or below
     * {@code lsn} (the tailer is then left anywhere).
     */
    private boolean seekIn(NavigableSet<Long> cycles, ExcerptTailer tailer, long lsn) {
        for (Long cycle : cycles.descendingSet()) {
            long start = rollCycle.toIndex(cycle.intValue(), 0);
            long cycleFirst = lsnAt(tailer, start);
            if (cycleFirst < 0 && !tailer.moveToCycle(cycle.intValue())) {
                requireGone(cycle.intValue()); // not an empty file: gone since listed (retention), else damaged
            }
            if (cycleFirst < 0 || cycleFirst > lsn) {
                continue;
            }
            long guess = start + (lsn - cycleFirst);
            long at = lsnAt(tailer, guess);
            if (at == lsn) {
                tailer.moveToIndex(guess);
                return true;
            }
            // One past the last entry (recovery after a clean checkpoint, a reader that is caught up):
            // reading the entry before leaves the tailer just after it, where that LSN will be appended.
            // Without this, such a seek walked the whole cycle, reading every entry of it.
            if (at < 0 && lsnAt(tailer, guess - 1) == lsn - 1) {
                return true;
            }
            // Not a dense run of LSNs (a WAL written before torn tails were cut off): walk the cycle.
            tailer.moveToIndex(start);
            while (true) {
                long idx = tailer.index();
                seekReads.incrementAndGet();
                RawEntry e = read(tailer);
                if (e == null || e.headerLsn() >= lsn) {
                    tailer.moveToIndex(idx);
                    return true;
                }
            }
        }
        return false;
    }

    /** Entries {@link #seek} has read so far (its cost; for tests). */
    long seekReads() {
        return seekReads.get();
    }

    private long lsnAt(ExcerptTailer tailer, long index) {
        if (!tailer.moveToIndex(index)) {
            return -1;
        }
        seekReads.incrementAndGet();
        RawEntry e = read(tailer);
        return e == null ? -1 : e.headerLsn();
    }

    /** LSN of the first entry still in the log, or -1 if the log is empty. */
    public long firstLsn(ExcerptTailer tailer) {
        toStart(tailer);
        RawEntry e = read(tailer);
        toStart(tailer);
        return e == null ? -1 : e.headerLsn();
    }

    /**
     * {@code tailer.toStart()}, also while Chronicle's first cycle is a file retention has just
     * deleted (see {@link #cycles}): Chronicle then fails ({@code MissingStoreFileException}), or,
     * for a tailer that still has that file mapped, goes to the start of the deleted file. The
     * tailer goes to the start of the oldest cycle file there is instead. Only a file that is gone
     * is passed over: one that is there but Chronicle cannot open (a damaged header; Chronicle gives
     * up after its header timeout, as it does for a missing file) is an {@link IntegrityException},
     * never taken for retention's delete (its entries would pass for "no longer available").
     */
    private void toStart(ExcerptTailer tailer) {
        try {
            tailer.toStart();
            if (tailer.state() != TailerState.FOUND_IN_CYCLE || Files.exists(cycleFile(tailer.cycle()))) {
                return;
            }
        } catch (MissingStoreFileException e) {
            String m = e.getMessage();
            if (m == null || !m.startsWith(MISSING_FIRST_STORE)) {
                throw e;
            }
            java.util.regex.Matcher named = CYCLE_NAMED.matcher(m);
            requireGone(named.find() ? Integer.parseInt(named.group(1)) : queue.firstCycle());
            queue.refreshDirectoryListing(); // the writer's own queue: its listing is right from now on
        }
        for (long cycle : cyclesOnDisk(Integer.MIN_VALUE, Integer.MAX_VALUE)) {
            if (tailer.moveToCycle((int) cycle)) {
                return;
            }
            requireGone((int) cycle); // deleted since listed: on to the next
        }
        tailer.toStart(); // no file left: as Chronicle has it (an empty log)
    }

    /**
     * Throws unless {@code cycle}'s file is gone: called when Chronicle could not open it, which it
     * reports alike for a file retention deleted and for one that is there but damaged.
     */
    private void requireGone(int cycle) {
        Path f = cycleFile(cycle);
        if (Files.exists(f)) {
            throw new IntegrityException("WAL file " + f + " is there but cannot be read (a damaged header?); its"
                    + " entries are not skipped as if retention had deleted them");
        }
    }

    /**
     * Deletes whole cycle files whose every entry has an LSN of at most {@code upToLsn}. The
     * newest cycle is always kept. A file goes only when the next cycle's first entry is intact
     * (checksum and format verified) and proves it: its LSN, less one, is the last LSN of the
     * file. Returns the number of files deleted.
     */
    public int deleteUpTo(long upToLsn) {
        NavigableSet<Long> cycles = cycles();
        if (cycles.size() < 2) {
            return 0;
        }
        int deleted = 0;
        ExcerptTailer t = queue.createTailer();
        try {
            Long[] list = cycles.toArray(new Long[0]);
            for (int i = 0; i < list.length - 1; i++) {
                long nextStart = rollCycle.toIndex(list[i + 1].intValue(), 0);
                if (!t.moveToIndex(nextStart)) {
                    break;
                }
                RawEntry next = read(t);
                if (next == null) {
                    break;
                }
                long nextFirst;
                try {
                    nextFirst = EntryCodec.verifyHeader(next.bytes()).lsn();
                } catch (IntegrityException e) {
                    LOG.warn("keeping {} and later WAL files: the first entry of the next file (queue index {}) is not"
                            + " intact: {}", cycleFile(list[i].intValue()), Long.toHexString(next.index()), e.getMessage());
                    break;
                }
                if (nextFirst - 1 > upToLsn) {
                    break;
                }
                File f = cycleFile(list[i].intValue()).toFile();
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

    /**
     * Releases the append locks Chronicle keeps in {@code metadata.cq4t} that a writer killed
     * inside an append left held. Chronicle breaks such a lock only when the process it names is
     * dead: if that pid is alive — reused after a reboot, or in a container where the JVM always
     * has the same pid, this very process — every append would time out. Only for the store's
     * writer, while it holds the data directory's {@code LOCK} (no other writer can be running).
     */
    void releaseStaleLocks() {
        for (String key : CHRONICLE_LOCK_KEYS) {
            long holder = queue.tableStoreGet(key);
            if (holder != UNLOCKED) {
                LOG.warn("releasing Chronicle's {} in {}, left held by a writer that stopped in an append ({})", key,
                        metadataFile(), holder);
                queue.tableStorePut(key, UNLOCKED);
            }
        }
    }

    /**
     * The cycles Chronicle knows of, oldest first; none before the first cycle file exists (then
     * {@code firstCycle()} is {@code Integer.MAX_VALUE}, and asking for the cycles between it and
     * {@code lastCycle()} fails). While Chronicle's first cycle is a file retention has just deleted
     * ({@link #deleteUpTo}, in this process or the writer's), the cycles with a file in the directory.
     */
    private NavigableSet<Long> cycles() {
        int first = queue.firstCycle();
        int last = queue.lastCycle();
        if (first == Integer.MAX_VALUE || first > last) {
            return java.util.Collections.emptyNavigableSet();
        }
        try {
            return queue.listCyclesBetween(first, last);
        } catch (IllegalStateException e) {
            if (e.getMessage() == null || !e.getMessage().startsWith(LOWER_CYCLE_GONE)) {
                throw e;
            }
            // Retention deleted the first cycle's file after Chronicle noted it as the first: the
            // writer updates the first cycle in the queue's metadata only once its whole delete is
            // done, and a read-only queue cannot update it at all. List the directory instead.
            queue.refreshDirectoryListing(); // the writer's own queue: its listing is right from now on
            return cyclesOnDisk(first, last);
        }
    }

    /**
     * The cycles from {@code first} to {@code last} that have a file in the WAL directory now,
     * read from the directory itself (Chronicle's listing may lag behind retention's deletes).
     */
    private NavigableSet<Long> cyclesOnDisk(int first, int last) {
        java.util.TreeSet<Long> out = new java.util.TreeSet<>();
        String suffix = SingleChronicleQueue.SUFFIX;
        RollingResourcesCache names = new RollingResourcesCache(rollCycle, queue.epoch(),
                name -> dir.resolve(name + suffix).toFile(), f -> f.getName().substring(0, f.getName().length() - suffix.length()));
        String[] files = dir.toFile().list();
        if (files == null) {
            throw new WalshipException("cannot list the WAL directory " + dir);
        }
        for (String f : files) {
            if (!f.endsWith(suffix)) {
                continue;
            }
            int cycle;
            try {
                cycle = names.parseCount(f.substring(0, f.length() - suffix.length()));
            } catch (RuntimeException notACycleFile) {
                continue; // not one of Chronicle's names: not a cycle file (Chronicle's listing skips it too)
            }
            if (cycle >= first && cycle <= last) {
                out.add((long) cycle);
            }
        }
        return out;
    }

    /** The cycle files present, oldest first. */
    List<CycleFile> cycleFiles() {
        List<CycleFile> out = new ArrayList<>();
        queue.refreshDirectoryListing();
        for (Long cycle : cycles()) {
            Path p = cycleFile(cycle.intValue());
            if (Files.exists(p)) {
                out.add(new CycleFile(cycle.intValue(), p));
            }
        }
        return out;
    }

    /** The file that holds (or will hold) cycle {@code cycle}. */
    Path cycleFile(int cycle) {
        long millis = (long) cycle * rollCycle.lengthInMillis() + queue.epoch();
        return dir.resolve(cycleNames.format(Instant.ofEpochMilli(millis)) + SingleChronicleQueue.SUFFIX);
    }

    /** Chronicle's own metadata file (directory listing, locks). */
    Path metadataFile() {
        return dir.resolve(SingleChronicleQueue.QUEUE_METADATA_FILE);
    }

    @Override
    public void close() {
        queue.close();
    }

    // ---- test hooks ----------------------------------------------------------------------------

    private volatile Runnable seekHook = () -> {
    };

    /** Runs {@code hook} in each {@link #seek} between listing the cycles and reading them (a test deletes files there). */
    void afterSeekListedCyclesForTesting(Runnable hook) {
        seekHook = hook;
    }
}
