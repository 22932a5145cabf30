package io.walship.wal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The page cache: in-memory frames over the {@link PageFile}, kept at {@code capacity} frames
 * between operations, least recently used evicted first (clean frames before dirty ones).
 *
 * <h2>Who may do what</h2>
 * <ul>
 *   <li><b>Bytes</b> of a frame change only under the store's <b>write lock</b>: a write
 *       transaction ({@link PageTxn}), or redo and apply of WAL entries.
 *   <li><b>Dirty</b> is set ({@link #markDirty}) only under the write lock, when a change is
 *       sealed or applied. It is cleared only by the thread that has just written the frame's
 *       current bytes to {@code pages.dat}, in the same hold of the read or write lock as the
 *       write. Since no writer can change the bytes while that lock is held, "clean" always
 *       means "these exact bytes are in the page file" (issue 9, defect 2: a checkpoint used to
 *       count a frame clean when it copied it, long before it wrote the copy).
 *   <li><b>Write-ahead rule:</b> a dirty frame is written only after {@link WriteBack#awaitDurable}
 *       up to its page LSN; under the caller's lock the LSN cannot move.
 *   <li><b>Leaving the pool:</b> only a clean, unpinned frame is removed. So a page that is not in
 *       the pool has its latest version in the page file, and a miss may read it from there.
 *   <li><b>Eviction</b> runs only where no write transaction is open: under the read lock
 *       (readers, checkpoint batches) or under the write lock between transactions (the writer
 *       after a group, recovery). Frames a transaction changes are also pinned ({@link #pin}),
 *       and a pinned frame is never evicted, so a misplaced eviction still could not drop them.
 * </ul>
 *
 * <h2>Why no update is lost and no old copy overwrites a newer page</h2>
 * Every write of a page is made from its live frame, never from a copy taken earlier, while the
 * writer holds a lock that excludes write transactions. Two writes of the same page therefore
 * either happen under the same read phase (identical bytes) or are ordered by the lock, the
 * later one carrying the later bytes. A checkpoint and an eviction may both write a page; they
 * write the same bytes. Whoever finds a page missing reads the version written last, because the
 * frame was removed only after that write returned.
 *
 * <p>Thread-safe: the frame table, the LRU lists, the dirty flags, pins and counters are guarded
 * by this object's monitor; I/O (reads on a miss, write-back) runs outside it. Once the store is
 * shared ({@link #requireLock}), eviction and write-back check that the caller holds the store's
 * lock; recovery (before that) and a restore ({@link Redo}) are single-threaded.
 */
final class BufferPool {
    /** Contiguous pages written per system call. */
    private static final int RUN_PAGES = 64;

    static final class Frame {
        final int pageNo;
        final byte[] data;
        // guarded by the pool's monitor (and only set under the store's write lock)
        boolean dirty;
        long lsn;
        int pins;
        private Frame older;
        private Frame newer;

        Frame(int pageNo, byte[] data) {
            this.pageNo = pageNo;
            this.data = data;
        }
    }

    /** How dirty frames may be written back: the store's write-ahead rule and any other restriction. */
    interface WriteBack {
        /** A restore: the directory is not a store until it is finished, no WAL to wait for. */
        WriteBack UNLOGGED = new WriteBack() {
            @Override
            public boolean mayWriteDirty() {
                return true;
            }

            @Override
            public void awaitDurable(long lsn) {
            }
        };

        /** False while dirty frames must stay in memory (a standby without a usable horizon). */
        boolean mayWriteDirty();

        /** Blocks until the WAL is durable up to {@code lsn}. */
        void awaitDurable(long lsn);

        /** The pool is over capacity and holds nothing it may evict; called outside the monitor. */
        default void overCapacity(int pages, int capacity) {
        }
    }

    /** Counters; each value is current when read. */
    record Stats(int pages, int capacity, int dirtyPages, long hits, long misses, long evictions,
                 long evictionWrites, long checkpointWrites) {
    }

    /** Frames in least-recently-used order, linked through the frames themselves. */
    private static final class Lru {
        Frame oldest;
        Frame newest;
        int size;

        void add(Frame f) {
            f.older = newest;
            f.newer = null;
            if (newest != null) {
                newest.newer = f;
            } else {
                oldest = f;
            }
            newest = f;
            size++;
        }

        void remove(Frame f) {
            if (f.older != null) {
                f.older.newer = f.newer;
            } else {
                oldest = f.newer;
            }
            if (f.newer != null) {
                f.newer.older = f.older;
            } else {
                newest = f.older;
            }
            f.older = null;
            f.newer = null;
            size--;
        }

        void touch(Frame f) {
            if (newest != f) {
                remove(f);
                add(f);
            }
        }
    }

    private final PageFile file;
    private final int capacity;
    /**
     * Arrays of evicted frames, handed to the next frames instead of new ones; null unless the
     * pool may reuse them ({@link #BufferPool(PageFile, int, boolean)}). Guarded by the monitor.
     */
    private final java.util.ArrayDeque<byte[]> spare;
    private volatile ReentrantReadWriteLock lock;
    private final FrameTable frames = new FrameTable();
    private final Lru clean = new Lru();
    private final Lru dirty = new Lru();
    private long hits;
    private long misses;
    private long evictions;
    private long evictionWrites;
    private long checkpointWrites;
    private int peak;

    BufferPool(PageFile file, int capacityPages) {
        this(file, capacityPages, false);
    }

    /**
     * {@code reuseArrays}: an evicted frame's array is reused for a later frame, so that a pool
     * smaller than what it goes through allocates no page after it has filled. Only for a user
     * that never keeps a frame's bytes past the next pool call (a restore's {@link Redo}: one
     * thread, no readers); a store's readers may still hold the bytes of an evicted frame.
     */
    BufferPool(PageFile file, int capacityPages, boolean reuseArrays) {
        this.file = file;
        this.capacity = Math.max(64, capacityPages);
        this.spare = reuseArrays ? new java.util.ArrayDeque<>() : null;
    }

    /** From now on other threads use the pool: eviction and write-back require {@code storeLock}. */
    void requireLock(ReentrantReadWriteLock storeLock) {
        this.lock = storeLock;
    }

    int capacity() {
        return capacity;
    }

    /**
     * The page's frame, read from the page file on a miss. Never evicts: for write transactions
     * and redo (under the write lock), and for {@link #read}.
     */
    Frame frame(int pageNo) {
        Frame cached = lookup(pageNo);
        if (cached != null) {
            return cached;
        }
        byte[] data = file.read(pageNo, takeSpare());
        synchronized (this) {
            Frame f = frames.get(pageNo);
            if (f == null) {
                f = new Frame(pageNo, data);
                frames.put(pageNo, f);
                clean.add(f);
                peak = Math.max(peak, frames.size());
            }
            return f;
        }
    }

    /**
     * A page for a reader, then the pool is brought back to capacity. The caller holds the read
     * lock (or the write lock between transactions) and must not modify the bytes; they stay
     * valid while it holds the lock, even if the frame is evicted meanwhile.
     */
    byte[] read(int pageNo, WriteBack writeBack) {
        byte[] data = frame(pageNo).data;
        evictToCapacity(writeBack);
        return data;
    }

    /** The page's frame, made the most recently used, or null; counts a hit or a miss. */
    private synchronized Frame lookup(int pageNo) {
        Frame f = frames.get(pageNo);
        if (f != null) {
            hits++;
            (f.dirty ? dirty : clean).touch(f);
            return f;
        }
        misses++;
        return null;
    }

    /** An array for a new frame: an evicted frame's when the pool reuses them, else null (allocate). */
    private synchronized byte[] takeSpare() {
        return spare == null ? null : spare.poll();
    }

    /** Keeps an evicted frame's array for reuse, up to a batch of eviction's worth. Monitor held. */
    private void keepSpare(Frame f) {
        if (spare != null && spare.size() < capacity / 8 + 1) {
            spare.push(f.data);
        }
    }

    /**
     * The frame of a page whose every byte the caller is about to write (a full-page image during
     * redo): the page's frame if it is in the pool, else a new frame, not read from the file, whose
     * bytes are undefined until the caller has written them. Write lock; never evicts.
     */
    synchronized Frame frameToOverwrite(int pageNo) {
        Frame f = lookup(pageNo);
        if (f != null) {
            return f;
        }
        byte[] data = spare == null ? null : spare.poll();
        f = new Frame(pageNo, data != null ? data : new byte[PageFormat.PAGE_SIZE]);
        frames.put(pageNo, f);
        clean.add(f);
        peak = Math.max(peak, frames.size());
        return f;
    }

    /** Installs a page's full content (a new page, or a full-page image during redo). Write lock. */
    synchronized Frame install(int pageNo, byte[] data) {
        Frame f = frames.get(pageNo);
        if (f == null) {
            f = new Frame(pageNo, data);
            frames.put(pageNo, f);
            clean.add(f);
            peak = Math.max(peak, frames.size());
        } else {
            System.arraycopy(data, 0, f.data, 0, data.length);
            (f.dirty ? dirty : clean).touch(f);
        }
        return f;
    }

    /** The frame now holds a change with LSN {@code lsn} that is not in the page file. Write lock. */
    synchronized void markDirty(Frame f, long lsn) {
        f.lsn = lsn;
        if (!f.dirty) {
            f.dirty = true;
            clean.remove(f);
            dirty.add(f);
        }
    }

    /**
     * Puts a frame's dirty flag and LSN back as a rolled-back transaction found them (its bytes
     * are already restored; a frame that was clean again equals its page in the file). Write lock.
     */
    synchronized void restore(Frame f, boolean wasDirty, long lsn) {
        if (frames.get(f.pageNo) != f) {
            throw new IllegalStateException("page " + f.pageNo + " left the pool during its transaction");
        }
        f.lsn = lsn;
        if (f.dirty != wasDirty) {
            (f.dirty ? dirty : clean).remove(f);
            f.dirty = wasDirty;
            (wasDirty ? dirty : clean).add(f);
        }
    }

    /** Keeps the frame in the pool until {@link #unpin}: a transaction is changing it. Write lock. */
    synchronized void pin(Frame f) {
        f.pins++;
    }

    synchronized void unpin(Frame f) {
        if (f.pins <= 0) {
            throw new IllegalStateException("page " + f.pageNo + " unpinned more often than pinned");
        }
        f.pins--;
    }

    /** Forgets a page a rolled-back transaction had added. Write lock. */
    synchronized void drop(int pageNo) {
        Frame f = frames.remove(pageNo);
        if (f != null) {
            (f.dirty ? dirty : clean).remove(f);
        }
    }

    /** Page numbers of the dirty frames, ascending. */
    synchronized int[] dirtyPages() {
        int[] out = new int[dirty.size];
        int i = 0;
        for (Frame f = dirty.oldest; f != null; f = f.newer) {
            out[i++] = f.pageNo;
        }
        Arrays.sort(out);
        return out;
    }

    /**
     * Writes those of {@code pages[from..to)} that are dirty now (a checkpoint batch), after the
     * WAL is durable up to their LSNs; they stay in the pool, clean. The caller holds the read
     * lock (or the write lock). Returns the number of pages written.
     */
    int writeDirty(int[] pages, int from, int to, WriteBack writeBack) {
        checkLockHeld();
        List<Frame> batch = new ArrayList<>(to - from);
        long maxLsn = 0;
        synchronized (this) {
            for (int i = from; i < to; i++) {
                Frame f = frames.get(pages[i]);
                if (f != null && f.dirty) {
                    batch.add(f);
                    maxLsn = Math.max(maxLsn, f.lsn);
                }
            }
        }
        if (batch.isEmpty()) {
            return 0;
        }
        writeBack.awaitDurable(maxLsn);
        write(batch, false);
        synchronized (this) {
            checkpointWrites += batch.size();
        }
        return batch.size();
    }

    /**
     * Shrinks the pool to its capacity: clean frames first, least recently used first, then
     * dirty ones (a batch of them, written back after the WAL is durable up to their LSNs) if
     * {@code writeBack} allows it. Pinned frames stay. The caller holds the read lock, or the
     * write lock between transactions.
     */
    void evictToCapacity(WriteBack writeBack) {
        List<Frame> victims;
        int size;
        synchronized (this) {
            if (frames.size() <= capacity) {
                return;
            }
            checkLockHeld();
            Frame f = clean.oldest;
            while (frames.size() > capacity && f != null) {
                Frame next = f.newer;
                if (f.pins == 0) {
                    clean.remove(f);
                    frames.remove(f.pageNo);
                    evictions++;
                    keepSpare(f);
                }
                f = next;
            }
            size = frames.size();
            if (size <= capacity) {
                return;
            }
            if (!writeBack.mayWriteDirty()) {
                victims = null;
            } else {
                // a batch at a time, so that one WAL wait and a few system calls serve many pages
                int want = size - capacity + Math.max(1, capacity / 16);
                victims = new ArrayList<>(want);
                for (Frame d = dirty.oldest; d != null && victims.size() < want; d = d.newer) {
                    if (d.pins == 0) {
                        victims.add(d);
                    }
                }
            }
        }
        if (victims == null) {
            writeBack.overCapacity(size, capacity);
            return;
        }
        if (victims.isEmpty()) {
            return;
        }
        long maxLsn = 0;
        for (Frame v : victims) {
            maxLsn = Math.max(maxLsn, v.lsn);
        }
        writeBack.awaitDurable(maxLsn);
        write(victims, true);
        synchronized (this) {
            evictionWrites += victims.size();
        }
    }

    /**
     * Writes the frames' current bytes (sealed with their checksums, in page order, contiguous
     * pages in one call), then marks them clean, and with {@code evict} removes them.
     */
    private void write(List<Frame> fs, boolean evict) {
        sortByPage(fs);
        byte[] run = new byte[Math.min(fs.size(), RUN_PAGES) * PageFormat.PAGE_SIZE];
        int first = -1;
        int n = 0;
        for (Frame f : fs) {
            if (n > 0 && (f.pageNo != first + n || n == RUN_PAGES)) {
                file.writeSealedRun(first, run, n);
                n = 0;
            }
            if (n == 0) {
                first = f.pageNo;
            }
            PageFormat.sealInto(f.data, run, n * PageFormat.PAGE_SIZE);
            n++;
        }
        if (n > 0) {
            file.writeSealedRun(first, run, n);
        }
        synchronized (this) {
            for (Frame f : fs) {
                if (frames.get(f.pageNo) != f) {
                    continue; // another thread wrote the same bytes and evicted it meanwhile
                }
                if (f.dirty) {
                    f.dirty = false;
                    dirty.remove(f);
                    clean.add(f);
                }
                if (evict && f.pins == 0) {
                    clean.remove(f);
                    frames.remove(f.pageNo);
                    evictions++;
                    keepSpare(f);
                }
            }
        }
    }

    /**
     * Sorts frames by page number through primitive keys (page number, then position): a
     * comparator sort of the list costs a restore's every eviction batch more, and its own JIT time.
     */
    private static void sortByPage(List<Frame> fs) {
        int n = fs.size();
        long[] keys = new long[n];
        Frame[] in = fs.toArray(new Frame[0]);
        for (int i = 0; i < n; i++) {
            keys[i] = (long) in[i].pageNo << 32 | i;
        }
        Arrays.sort(keys);
        for (int i = 0; i < n; i++) {
            fs.set(i, in[(int) keys[i]]);
        }
    }

    private void checkLockHeld() {
        ReentrantReadWriteLock lock = this.lock;
        if (lock != null && !lock.isWriteLockedByCurrentThread() && lock.getReadHoldCount() == 0) {
            throw new IllegalStateException("buffer pool eviction or write-back without the store's lock");
        }
    }

    synchronized int size() {
        return frames.size();
    }

    synchronized Stats stats() {
        return new Stats(frames.size(), capacity, dirty.size, hits, misses, evictions, evictionWrites,
                checkpointWrites);
    }

    /** The largest size the pool has had since the last {@link #resetPeakForTesting}. */
    synchronized int peakForTesting() {
        return peak;
    }

    synchronized void resetPeakForTesting() {
        peak = frames.size();
    }
}
