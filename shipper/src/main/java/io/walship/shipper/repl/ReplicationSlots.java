package io.walship.shipper.repl;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;

import io.walship.protocol.repl.RefusalCode;
import io.walship.wal.AtomicFiles;
import io.walship.wal.Lsn;
import io.walship.wal.Store;
import io.walship.wal.StoreStats;
import io.walship.wal.WalEntry;
import io.walship.wal.WalReader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader's replication slots (docs/OPERATIONS.md, "Replication slots"). A slot is created by
 * the first HELLO that names it and keeps, for a follower that may be disconnected, the WAL from its
 * <b>restart LSN</b> on: the last LSN the follower reported flushed. It is persisted as the WAL
 * retention mark {@code DATA/marks/consumer.slot.NAME} ({@link io.walship.wal.WalMarks}), so the
 * checkpointer deletes no WAL the slot still needs, across restarts too. A slot that holds more than
 * {@code --max-slot-wal-keep} bytes of WAL is marked <b>lost</b>: logged at WARN, counted, shown in
 * /status, persisted as {@code DATA/slots/NAME.lost} (one line: when, why), and its mark is removed,
 * so the next checkpoint releases the WAL. A HELLO on a lost slot gets SLOT_LOST until an operator
 * deletes that file (the slot is then created anew by the next HELLO).
 *
 * <p>How many bytes a slot holds: the leader samples (LSN, WAL bytes appended so far) at every tick,
 * starting from a scan of the WAL on disk when the server starts; a slot holds the bytes appended
 * after the newest sample at or before its restart LSN: exact at the samples, which are at most 64 KiB
 * (or 1/64 of the bound) of WAL apart; between two samples it counts the bytes from the earlier one.
 *
 * <p>The restart LSN moves in memory with every FEEDBACK and reaches the mark file at most every
 * {@value #PERSIST_EVERY_MILLIS} ms and when the session ends: a mark that lags behind only keeps
 * more WAL. Thread-safe (one lock).
 */
final class ReplicationSlots {
    private static final Logger LOG = LoggerFactory.getLogger(ReplicationSlots.class);
    static final String MARK_PREFIX = "slot.";
    static final String DIR_NAME = "slots";
    static final String LOST_SUFFIX = ".lost";
    static final long PERSIST_EVERY_MILLIS = 1000;
    /** A slot name: what a mark name allows, less the prefix. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9_.-]{1,59}");
    private static final long SAMPLE_BYTES = 64 << 10;

    /** What /status says about a slot. */
    record Status(String name, long restartLsn, boolean lost, long retainedBytes, boolean active) {
    }

    /** Why a HELLO may not use a slot. */
    static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        final RefusalCode code;

        Refused(RefusalCode code, String message) {
            super(message);
            this.code = code;
        }
    }

    static final class Slot {
        final String name;
        long restartLsn; // guarded by the slots' lock
        long persistedLsn;
        boolean lost;
        /** Created by the HELLO that holds it now (and by no earlier one). */
        boolean created;
        Object holder;

        Slot(String name, long restartLsn) {
            this.name = name;
            this.restartLsn = restartLsn;
            this.persistedLsn = restartLsn;
        }
    }

    private final Store store;
    private final long maxKeepBytes;
    private final Path lostDir;
    private final Map<String, Slot> slots = new TreeMap<>();
    /** LSN → WAL bytes appended up to it (a running count with an arbitrary origin). */
    private final ConcurrentSkipListMap<Long, Long> bytesAt = new ConcurrentSkipListMap<>();
    private final AtomicLong lostTotal = new AtomicLong();
    private long lastPersistNanos = System.nanoTime();
    private long lastSampleBytes = Long.MIN_VALUE;

    ReplicationSlots(Store store, long maxKeepBytes) {
        this.store = store;
        this.maxKeepBytes = maxKeepBytes;
        this.lostDir = store.dir().resolve(DIR_NAME);
        for (Map.Entry<String, Long> c : store.marks().consumers().entrySet()) {
            if (c.getKey().startsWith(MARK_PREFIX)) {
                String name = c.getKey().substring(MARK_PREFIX.length());
                slots.put(name, new Slot(name, c.getValue()));
            }
        }
        for (String name : lostNames()) {
            Slot s = slots.computeIfAbsent(name, n -> new Slot(n, 0));
            s.lost = true;
            if (store.marks().consumers().containsKey(MARK_PREFIX + name)) {
                store.marks().removeConsumer(MARK_PREFIX + name); // a crash between the two steps of lose()
            }
        }
        scanWal();
        for (Slot s : slots.values()) {
            LOG.info("replication slot {}: {}", s.name, s.lost ? "LOST (delete " + lostFile(s.name)
                    + " to recreate it)" : "restart LSN " + Lsn.format(s.restartLsn));
        }
    }

    /** Counts the bytes of the WAL on disk, so that slots that already hold WAL are measured from the start. */
    private void scanWal() {
        StoreStats st = store.stats();
        long end = st.lastLsn();
        long appended = st.walBytes();
        store.awaitDurable(end, java.time.Duration.ofSeconds(30));
        List<long[]> samples = new ArrayList<>();
        long sum = 0;
        long sinceSample = Long.MAX_VALUE;
        try (WalReader r = store.walReader().headersOnly()) {
            long first = r.firstAvailableLsn();
            if (first > 0) {
                samples.add(new long[] {first - 1, 0});
                r.seek(first);
                WalEntry e;
                while ((e = r.next()) != null && e.lsn() <= end) {
                    sum += r.lastEntryBytes().length;
                    sinceSample += r.lastEntryBytes().length;
                    if (sinceSample >= SAMPLE_BYTES || e.lsn() == end) {
                        samples.add(new long[] {e.lsn(), sum});
                        sinceSample = 0;
                    }
                }
            }
        }
        // the running count at `end` is what the store has appended since it opened
        for (long[] s : samples) {
            bytesAt.put(s[0], appended - (sum - s[1]));
        }
        bytesAt.put(end, appended);
        lastSampleBytes = appended;
    }

    /** Tick: records (last LSN, bytes appended) if enough was written since the last sample. */
    private void sample() {
        StoreStats st = store.stats();
        // read the LSN before the byte count: the count may include a later entry, never miss one
        if (st.walBytes() - lastSampleBytes >= Math.min(SAMPLE_BYTES, Math.max(1, maxKeepBytes / 64))) {
            bytesAt.put(st.lastLsn(), st.walBytes());
            lastSampleBytes = st.walBytes();
        }
    }

    private long retainedBytes(Slot s, long appendedNow) {
        if (s.lost) {
            return 0;
        }
        Map.Entry<Long, Long> base = bytesAt.floorEntry(s.restartLsn);
        if (base == null) {
            base = bytesAt.firstEntry();
        }
        return base == null ? 0 : Math.max(0, appendedNow - base.getValue());
    }

    static void checkName(String name) throws Refused {
        if (!NAME.matcher(name).matches()) {
            throw new Refused(RefusalCode.SLOT_LOST, "slot name '" + FollowerSession.printable(name) + "' is not allowed: it must match "
                    + NAME.pattern());
        }
    }

    /**
     * Takes slot {@code name} for {@code holder}, creating it at {@code startLsn - 1} if it does not
     * exist; moves an existing slot forward to {@code startLsn - 1} (the follower has everything before).
     *
     * @throws Refused SLOT_LOST or SLOT_IN_USE
     */
    synchronized Slot acquire(String name, long startLsn, Object holder) throws Refused {
        checkName(name);
        Slot s = slots.get(name);
        if (s != null && s.lost) {
            if (Files.exists(lostFile(name))) {
                throw new Refused(RefusalCode.SLOT_LOST, "replication slot '" + name + "' was lost (it held back more"
                        + " than the allowed WAL); catch up from the archive; an operator deletes " + lostFile(name)
                        + " on the leader to recreate it");
            }
            LOG.info("replication slot {} was lost and its lost file removed: creating it anew", name);
            slots.remove(name);
            s = null;
        }
        if (s != null && s.holder != null) {
            throw new Refused(RefusalCode.SLOT_IN_USE, "replication slot '" + name + "' is in use by another"
                    + " connection (" + s.holder + ")");
        }
        long at = startLsn - 1;
        if (s != null) {
            s.created = false;
        }
        if (s == null) {
            s = new Slot(name, at);
            s.created = true;
            store.marks().setConsumer(MARK_PREFIX + name, at);
            slots.put(name, s);
            LOG.info("created replication slot {} at LSN {}", name, Lsn.format(at));
        } else if (at > s.restartLsn) {
            s.restartLsn = at;
        }
        s.holder = holder;
        return s;
    }

    /**
     * Undoes the creation of {@code s} by {@link #acquire} when the handshake failed right after (its
     * start LSN was not in the WAL): a slot below the WAL would hold back every later deletion.
     * Slots that existed before are only released.
     */
    synchronized void dropIfNew(Slot s, Object holder) {
        if (s.holder == holder) {
            s.holder = null;
        }
        if (s.created && !s.lost) {
            store.marks().removeConsumer(MARK_PREFIX + s.name);
            slots.remove(s.name);
            LOG.info("dropped replication slot {} again: its start LSN is not in the WAL", s.name);
        } else {
            persist(s);
        }
    }

    /** The follower on {@code s} has flushed up to {@code lsn}. */
    synchronized void confirm(Slot s, long lsn) {
        if (!s.lost && lsn > s.restartLsn) {
            s.restartLsn = lsn;
        }
    }

    /** The session on {@code s} ended: persist its position and free it. */
    synchronized void release(Slot s, Object holder) {
        if (s.holder == holder) {
            s.holder = null;
        }
        persist(s);
    }

    private void persist(Slot s) {
        if (!s.lost && s.restartLsn != s.persistedLsn) {
            store.marks().setConsumer(MARK_PREFIX + s.name, s.restartLsn);
            s.persistedLsn = s.restartLsn;
        }
    }

    /**
     * Periodic work: samples the WAL, persists moved slots, marks slots over their bound lost.
     * Returns the holders of slots it just marked lost (their sessions must end).
     */
    synchronized List<Object> tick() {
        sample();
        boolean persistNow = System.nanoTime() - lastPersistNanos >= PERSIST_EVERY_MILLIS * 1_000_000L;
        long appendedNow = store.stats().walBytes();
        List<Object> ended = new ArrayList<>();
        for (Slot s : slots.values()) {
            if (s.lost) {
                continue;
            }
            long held = retainedBytes(s, appendedNow);
            if (held > maxKeepBytes) {
                lose(s, held);
                if (s.holder != null) {
                    ended.add(s.holder);
                }
            } else if (persistNow) {
                persist(s);
            }
        }
        if (persistNow) {
            lastPersistNanos = System.nanoTime();
            dropRetired();
        }
        prune();
        return ended;
    }

    /**
     * An operator retires a slot by deleting its mark file (docs/OPERATIONS.md): a slot without a
     * follower whose mark is gone is dropped; one with a follower gets its mark back (stop the
     * follower first).
     */
    private void dropRetired() {
        Map<String, Long> marks = store.marks().consumers();
        for (java.util.Iterator<Slot> it = slots.values().iterator(); it.hasNext(); ) {
            Slot s = it.next();
            if (s.lost || marks.containsKey(MARK_PREFIX + s.name)) {
                continue;
            }
            if (s.holder == null) {
                it.remove();
                LOG.info("replication slot {} dropped: its mark {} was deleted", s.name, MARK_PREFIX + s.name);
            } else {
                LOG.warn("the mark of replication slot {} was deleted while a follower streams on it; writing it back"
                        + " (stop the follower first to retire the slot)", s.name);
                store.marks().setConsumer(MARK_PREFIX + s.name, s.restartLsn);
                s.persistedLsn = s.restartLsn;
            }
        }
    }

    private void lose(Slot s, long held) {
        String why = "held " + held + " bytes of WAL from LSN " + Lsn.format(s.restartLsn) + " on, over"
                + " --max-slot-wal-keep of " + maxKeepBytes + " bytes";
        AtomicFiles.createDirectories(lostDir);
        AtomicFiles.write(lostFile(s.name), (Instant.now() + " " + why + "\n").getBytes(StandardCharsets.UTF_8));
        store.marks().removeConsumer(MARK_PREFIX + s.name);
        s.lost = true;
        lostTotal.incrementAndGet();
        LOG.warn("REPLICATION SLOT {} LOST: it {}; its WAL is released at the next checkpoint and its follower must"
                + " catch up from the archive; delete {} to recreate the slot", s.name, why, lostFile(s.name));
    }

    /** Drops samples no slot needs any more (keeps the newest one). */
    private void prune() {
        long oldest = Long.MAX_VALUE;
        for (Slot s : slots.values()) {
            if (!s.lost) {
                oldest = Math.min(oldest, s.restartLsn);
            }
        }
        Long keepFrom = oldest == Long.MAX_VALUE ? bytesAt.lastKey() : bytesAt.floorKey(oldest);
        if (keepFrom != null) {
            bytesAt.headMap(keepFrom, false).clear();
        }
    }

    /** Persists every slot's position (at shutdown). */
    synchronized void persistAll() {
        for (Slot s : slots.values()) {
            persist(s);
        }
    }

    synchronized List<Status> status() {
        long appendedNow = store.stats().walBytes();
        List<Status> out = new ArrayList<>();
        for (Slot s : slots.values()) {
            out.add(new Status(s.name, s.restartLsn, s.lost, retainedBytes(s, appendedNow), s.holder != null));
        }
        return out;
    }

    /** Slots marked lost since this server started. */
    long lostTotal() {
        return lostTotal.get();
    }

    Path lostFile(String name) {
        return lostDir.resolve(name + LOST_SUFFIX);
    }

    private List<String> lostNames() {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(lostDir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(lostDir, "*" + LOST_SUFFIX)) {
            for (Path p : ds) {
                String f = p.getFileName().toString();
                String name = f.substring(0, f.length() - LOST_SUFFIX.length());
                if (NAME.matcher(name).matches()) {
                    out.add(name);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("list " + lostDir, e);
        }
        return out;
    }

}
