package io.walship.restorer;

import java.io.IOException;
import java.io.InputStream;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

import io.walship.archive.CorruptObjectException;
import io.walship.archive.CountingInputStream;
import io.walship.archive.ObjectStore;
import io.walship.archive.ObjectStores;
import io.walship.archive.Prefetch;
import io.walship.archive.Segment;
import io.walship.archive.StorageException;
import io.walship.wal.ChangeIndex;
import io.walship.wal.EntryCodec;
import io.walship.wal.IntegrityException;
import io.walship.wal.Lsn;
import io.walship.wal.WalEntry;

/**
 * Fetches the segments of a plan in order, up to {@code parallel} ahead of the consumer, and
 * checks each on a worker thread (download, decompression, body and entry checksums and the
 * structure of every entry run beside the replay). Every problem names the object. One consumer;
 * close it to cancel the rest.
 *
 * <p>Memory is bounded in bytes, not in segments: a segment is streamed from the archive and
 * decompressed into its body, and the bodies held at once (the one being applied and those fetched
 * ahead) stay within {@code budgetBytes} — a segment larger than the whole budget is fetched alone.
 * Entries are not decoded into objects: a {@link Decoded} is the body, where its entries lie and
 * an index of their changes made while they were checked, for a consumer that applies them from
 * there without parsing them again ({@link io.walship.wal.Redo#apply(ChangeIndex, int)}).
 */
public final class SegmentPrefetcher implements AutoCloseable {
    /**
     * Bodies held at once by default: a few 16 MiB segments, at most a quarter of the heap (with
     * less, a loaded machine's replay waits for segments: measured in docs/BENCHMARKS.md).
     */
    public static long defaultBudgetBytes() {
        return Math.max(1L << 20, Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 4));
    }

    /**
     * A fetched and checked segment: its header, its decompressed body, where each entry lies in
     * it and each entry's commit time (entry {@code i} has LSN {@code header().firstLsn() + i}).
     * The body counts against the prefetcher's budget until the consumer asks for the next segment.
     */
    public static final class Decoded {
        private final Segment.Header header;
        private final byte[] body;
        private final int[] starts;
        /** Null if it was fetched without one, and once released (its arrays are then no longer held). */
        private ChangeIndex changes;
        private final long objectBytes;
        private final String key;
        /** Bytes of the prefetcher's budget it holds. */
        private final long granted;
        /** Its body was given back for a later segment to read into: the index points at other bytes. */
        private boolean released;

        Decoded(Segment.Header header, byte[] body, int[] starts, ChangeIndex changes, long objectBytes, String key,
                long granted) {
            this.granted = granted;
            this.header = header;
            this.body = body;
            this.starts = starts;
            this.changes = changes;
            this.objectBytes = objectBytes;
            this.key = key;
        }

        public Segment.Header header() {
            return header;
        }

        /** Bytes of the budget it holds (released by the consumer's next {@code next()}). */
        long granted() {
            return granted;
        }

        public long objectBytes() {
            return objectBytes;
        }

        public int count() {
            return starts.length;
        }

        public long lsn(int i) {
            return header.firstLsn() + i;
        }

        /**
         * Entry {@code i}'s commit time, read from its header in the body.
         *
         * @throws IllegalStateException once its body was released for reuse (it would be another segment's)
         */
        public long commitTimeMicros(int i) {
            if (released) {
                throw releasedFor("commit times");
            }
            return EntryCodec.commitTimeOf(body, starts[i]);
        }

        private IllegalStateException releasedFor(String what) {
            return new IllegalStateException(key + "'s body was released for reuse: its " + what + " would be read"
                    + " from another segment's bytes");
        }

        /**
         * Whether it carries the index of its changes ({@link #changes}): a restore asked for it,
         * and it fit in the budget beside the body. A consumer applies a segment without one from
         * its body ({@link io.walship.wal.Redo#apply(byte[], int, int)}), each entry parsed again.
         */
        public boolean indexed() {
            return changes != null;
        }

        /**
         * The entries' changes as the check recorded them, for {@link io.walship.wal.Redo#apply(ChangeIndex, int)}.
         *
         * @throws IllegalStateException if it was fetched without an index, or its body was
         *                               released for reuse (the consumer asked for the next segment)
         */
        public ChangeIndex changes() {
            if (released) {
                throw releasedFor("change index");
            }
            if (changes == null) {
                throw new IllegalStateException(key + " was fetched without a change index");
            }
            return changes;
        }

        /** The body holding entry {@code i} at {@link #offset}, {@link #length} bytes; read only. */
        public byte[] body() {
            return body;
        }

        public int offset(int i) {
            return starts[i];
        }

        public int length(int i) {
            return Segment.frameLength(body, starts[i]);
        }

        /** The entries decoded into objects, each when it is read (for consumers that need {@link WalEntry}s). */
        public List<WalEntry> entries() {
            return new AbstractList<>() {
                @Override
                public WalEntry get(int i) {
                    try {
                        return EntryCodec.decode(body, offset(i), length(i));
                    } catch (IntegrityException x) {
                        throw new CorruptObjectException(key, x.getMessage(), x);
                    }
                }

                @Override
                public int size() {
                    return starts.length;
                }
            };
        }
    }

    private final Prefetch<Decoded> segments;
    private final ByteBudget budget;
    /** Bodies the consumer is done with, for the next fetches to read into. */
    private final java.util.concurrent.ConcurrentLinkedQueue<byte[]> spareBodies = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private Decoded current;

    /** A prefetcher of segments whose entries are checked but not indexed (their consumer reads {@link Decoded#entries}). */
    public SegmentPrefetcher(ObjectStore store, List<RestorePlan.Step> steps, int parallel) {
        this(store, steps, parallel, defaultBudgetBytes(), false);
    }

    /**
     * With {@code indexChanges}, each segment also carries the {@link ChangeIndex} its check made
     * ({@link Decoded#changes}), counted in the budget with its body; only a consumer that applies
     * from it (a restore) should ask for it.
     */
    public SegmentPrefetcher(ObjectStore store, List<RestorePlan.Step> steps, int parallel, boolean indexChanges) {
        this(store, steps, parallel, defaultBudgetBytes(), indexChanges);
    }

    public SegmentPrefetcher(ObjectStore store, List<RestorePlan.Step> steps, int parallel, long budgetBytes,
                             boolean indexChanges) {
        this.budget = new ByteBudget(budgetBytes);
        List<Supplier<Decoded>> tasks = new ArrayList<>();
        for (int i = 0; i < steps.size(); i++) {
            RestorePlan.Step step = steps.get(i);
            long turn = i;
            tasks.add(() -> fetch(store, step.key(), step.segment().size(), budget, turn, spareBodies, indexChanges));
        }
        this.segments = new Prefetch<>("walship-segment", parallel, parallel + 1, tasks);
    }

    /**
     * The next segment. The previous one's body is released: it no longer counts against the
     * budget and is reused for a later segment, so the consumer must be done with it (entries it
     * took from {@link Decoded#entries} are copies and stay valid).
     */
    public Decoded next() {
        if (current != null) {
            current.released = true; // its index points into the body handed on
            current.changes = null; // and its arrays are not counted any more: a consumer still holding it must not keep them
            spareBodies.add(current.body); // before the release: the fetch it lets go on reuses it
            budget.release(current.granted);
            current = null;
        }
        current = segments.next();
        return current;
    }

    /** Downloads one segment and checks it completely ({@link #fetch(ObjectStore, String, long, ByteBudget, long)}). */
    static Decoded fetch(ObjectStore store, String key, long listedSize) {
        return fetch(store, key, listedSize, null, 0, null, false);
    }

    /** {@link #fetch(ObjectStore, String, long, ByteBudget, long, java.util.Queue, boolean)} without a change index. */
    static Decoded fetch(ObjectStore store, String key, long listedSize, ByteBudget budget, long turn,
                         java.util.Queue<byte[]> spare) {
        return fetch(store, key, listedSize, budget, turn, spare, false);
    }

    /**
     * Downloads one segment and checks it completely: size against the listing, header against
     * the key, body checksum, every entry's checksum, version and structure, and LSN continuity
     * inside it. With a {@code budget}, the body is read only once its bytes are granted, in
     * {@code turn} order (the plan's order, so that a later segment never holds the bytes an
     * earlier one waits for).
     *
     * <p>With {@code index}, the check also records every change in a {@link ChangeIndex}, if it
     * fits. The grant asks for the body and the index's room per entry while the segment
     * downloads (as main did for the body alone: WAL of full-page images needs under 1% more), and
     * is extended by the rest of the index once its size is known ({@link ChangeIndex#changeBound}
     * of each entry's header, before it is filled) — if that fits in the budget without waiting,
     * and body and index in half the heap. If not, the segment is checked and handed out without
     * an index, as on main (its consumer parses each entry again to apply it): never refused nor
     * made to wait for it. A segment larger than the whole budget holds all of it and is fetched
     * alone: only the half-heap bound limits its index; so does one whose body and index together
     * are more than the budget, when nothing else holds any of it.
     */
    static Decoded fetch(ObjectStore store, String key, long listedSize, ByteBudget budget, long turn,
                         java.util.Queue<byte[]> spare, boolean index) {
        var name = io.walship.archive.ArchiveLayout.parseSegment(key).orElseThrow();
        boolean granted = false;
        long grant = 0;
        InputStream response = null;
        boolean drained = false;
        try {
            response = store.get(key);
            // the body's decompressing stream closes what it reads; the rest is read to count it
            CountingInputStream in = new CountingInputStream(new StorageErrors(response, key), true);
            long before = 0; // bytes of the object read through a response given up while waiting for the budget
            Segment.Header h = Segment.readHeader(in, key);
            if (h.timeline() != name.timeline() || h.firstLsn() != name.firstLsn() || h.lastLsn() != name.lastLsn()
                    || h.entryCount() != h.lastLsn() - h.firstLsn() + 1) {
                throw new CorruptObjectException(key, "header says timeline " + h.timeline() + " LSN " + Lsn.format(h.firstLsn())
                        + ".." + Lsn.format(h.lastLsn()) + " in " + h.entryCount() + " entries, which its key contradicts");
            }
            long heap = Runtime.getRuntime().maxMemory();
            if (budget != null && h.bodyLength() > heap / 2) {
                throw new StorageException(key + " holds a " + (h.bodyLength() >> 20) + " MiB body, more than half of this"
                        + " JVM's " + (heap >> 20) + " MiB heap: run the restore with a larger heap, e.g."
                        + " WALSHIP_JAVA_OPTS=-Xmx" + Math.max(1, (h.bodyLength() * 3 >> 30) + 1) + "g");
            }
            // the least an index of it needs (its entries, no change): the rest is asked for once known
            long entryRoom = index ? ChangeIndex.bytesFor(h.entryCount(), 0) : 0;
            long want = h.bodyLength() + entryRoom;
            if (budget != null) {
                grant = budget.tryAcquire(turn, want);
                if (grant == 0) {
                    // it must wait (for earlier segments, or for the consumer to give bytes back, which
                    // can take as long as a base backup's download): a response left open and unread
                    // that long may be cut by the server, so give it up and ask for the rest after
                    before = in.count();
                    ObjectStores.abandon(response);
                    response = null;
                    grant = budget.acquire(turn, want);
                    granted = true;
                    // one byte past the listed end, so that an object longer than listed is still caught
                    response = store.getRange(key, before, listedSize - before + 1);
                    in = new CountingInputStream(new StorageErrors(response, key), true);
                }
                granted = true;
            }
            // after the grant, which waited for the consumer to give back the body it was done with
            byte[] reuse = spare == null ? null : spare.poll();
            if (reuse != null && reuse.length < h.bodyLength()) {
                reuse = null; // too small: let it go, so that only arrays in use are kept
            }
            if (reuse != null && budget != null && reuse.length > h.bodyLength()) {
                // the budget counts the array held, not the body in it: a large segment's array kept
                // circulating under small bodies' grants would hold more than the budget
                long extra = reuse.length - h.bodyLength();
                if (budget.tryExtend(extra)) {
                    grant += extra;
                } else {
                    reuse = null;
                }
            }
            byte[] body = Segment.readBody(h, in, key, reuse);
            in.transferTo(java.io.OutputStream.nullOutputStream());
            long objectBytes = before + in.count();
            if (objectBytes != listedSize) {
                throw new CorruptObjectException(key, "read " + objectBytes + " bytes, the listing says " + listedSize);
            }
            drained = true;
            response.close();
            int[] starts = Segment.frames(h, body, (int) h.bodyLength(), key);
            ChangeIndex changes = null;
            if (index) {
                // every entry checked once, here, and its changes indexed: the replay applies them
                // from the index without parsing (or decompressing a plain image) a second time.
                // Sized from the entries' headers (never grown by doubling), counted before it is made.
                long bound = 0;
                for (int start : starts) {
                    bound += ChangeIndex.changeBound(body, start, Segment.frameLength(body, start));
                }
                long indexBytes = ChangeIndex.bytesFor(starts.length, bound); // at least entryRoom: as many entries
                boolean alone = budget != null && grant < want; // larger than the budget: it holds all of it
                if (budget != null && !alone && h.bodyLength() + indexBytes > budget.total
                        && h.bodyLength() + indexBytes <= heap / 2 && budget.tryExtend(budget.total - grant)) {
                    // body and index are more than the whole budget, but nothing else is held: take all of it,
                    // as a segment larger than the budget does (else such a segment would never be indexed)
                    grant = budget.total;
                    alone = true;
                }
                boolean fits = budget == null || indexFits(budget, alone, h.bodyLength() + indexBytes,
                        indexBytes - entryRoom, heap);
                if (fits) {
                    if (budget != null && !alone) {
                        grant += indexBytes - entryRoom;
                    }
                    changes = new ChangeIndex(body, starts.length, (int) bound);
                } else if (!alone) {
                    budget.release(entryRoom); // checked without an index, as on main
                    grant -= entryRoom;
                }
            }
            long expect = h.firstLsn();
            for (int i = 0; i < starts.length; i++) {
                WalEntry e;
                try {
                    int len = Segment.frameLength(body, starts[i]);
                    e = changes != null ? changes.add(starts[i], len)
                            : EntryCodec.walk(body, starts[i], len, true, EntryCodec.NO_CHANGES);
                } catch (IntegrityException x) {
                    throw new CorruptObjectException(key, x.getMessage(), x);
                }
                if (e.lsn() != expect) {
                    throw new CorruptObjectException(key, "holds LSN " + Lsn.format(e.lsn()) + " where LSN "
                            + Lsn.format(expect) + " belongs");
                }
                if (e.timeline() != h.timeline()) {
                    throw new CorruptObjectException(key, "entry at LSN " + Lsn.format(e.lsn()) + " is on timeline "
                            + e.timeline() + ", the segment on " + h.timeline());
                }
                expect++;
            }
            if (changes != null) {
                changes.trim(); // a horizon-only or damaged count may have left room unused (not a copy otherwise)
            }
            granted = false; // from here the consumer releases it
            return new Decoded(h, body, starts, changes, objectBytes, key, grant);
        } catch (IOException e) {
            throw new StorageException("read " + key + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StorageException("interrupted while waiting to fetch " + key);
        } finally {
            if (response != null && !drained) {
                ObjectStores.abandon(response); // failed part way: not drained to the end of the object
            }
            if (budget != null) {
                if (granted) {
                    budget.release(grant);
                } else if (grant == 0) {
                    budget.pass(turn);
                }
                // (a task that failed while waiting for its turn was interrupted: the prefetcher is closing)
            }
        }
    }

    /**
     * Whether a segment's change index may be made: {@code bodyAndIndex} within half the heap, and
     * {@code more} bytes beyond its grant taken from the budget without waiting (not asked of a
     * segment fetched {@code alone}, which holds the whole budget). Taken if it returns true.
     */
    private static boolean indexFits(ByteBudget budget, boolean alone, long bodyAndIndex, long more, long heap) {
        if (bodyAndIndex > heap / 2) {
            return false;
        }
        return alone || budget.tryExtend(more);
    }

    /**
     * The object's stream with its read errors (a reset connection, a response cut short) made
     * {@link StorageException}s: they pass through the decompressor's error handling, which would
     * otherwise call the object corrupt (exit 3) when only the network failed (exit 1).
     */
    private static final class StorageErrors extends java.io.FilterInputStream {
        private final String key;

        StorageErrors(InputStream in, String key) {
            super(in);
            this.key = key;
        }

        private StorageException failed(IOException e) {
            return new StorageException("read " + key + ": " + e.getMessage(), e);
        }

        @Override
        public int read() {
            try {
                return super.read();
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) {
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public long skip(long n) {
            try {
                return super.skip(n);
            } catch (IOException e) {
                throw failed(e);
            }
        }

        @Override
        public int available() {
            try {
                return super.available();
            } catch (IOException e) {
                throw failed(e);
            }
        }
    }

    /**
     * Bytes granted in turn order: turn {@code t} is served only after every earlier turn was
     * served or passed, and only while the bytes granted and not released leave room for it (a
     * request larger than the whole budget is cut to the budget, so that it waits for everything
     * else to be released instead of forever).
     */
    static final class ByteBudget {
        private final long total;
        private long used;
        private long nextTurn;

        ByteBudget(long total) {
            if (total < 1) {
                throw new IllegalArgumentException("budget must be positive");
            }
            this.total = total;
        }

        /** Waits for turn {@code turn} and for room; returns the bytes granted (to release). */
        synchronized long acquire(long turn, long bytes) throws InterruptedException {
            long want = Math.max(1, Math.min(bytes, total));
            while (turn != nextTurn || used + want > total) {
                wait();
            }
            used += want;
            nextTurn++;
            notifyAll();
            return want;
        }

        /**
         * Turn {@code turn} takes nothing (its task failed before asking), once the earlier turns
         * were served: later turns need not wait for it. Gives up if interrupted (closing).
         */
        synchronized void pass(long turn) {
            try {
                while (turn != nextTurn) {
                    wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            nextTurn++;
            notifyAll();
        }

        /**
         * {@link #acquire} if it would not wait (turn {@code turn} is next and there is room):
         * returns the bytes granted, or 0 (nothing taken) if it would.
         */
        synchronized long tryAcquire(long turn, long bytes) {
            long want = Math.max(1, Math.min(bytes, total));
            if (turn != nextTurn || used + want > total) {
                return 0;
            }
            used += want;
            nextTurn++;
            notifyAll();
            return want;
        }

        /** Takes {@code bytes} more at once if they fit (for a grant already served), else nothing. */
        synchronized boolean tryExtend(long bytes) {
            if (used + bytes > total) {
                return false;
            }
            used += bytes;
            return true;
        }

        synchronized void release(long bytes) {
            used -= bytes;
            notifyAll();
        }

        synchronized long used() {
            return used;
        }
    }

    @Override
    public void close() {
        segments.close();
    }
}
