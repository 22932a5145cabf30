package io.walship.wal;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * In-memory page frames over the {@link PageFile}, least recently used first.
 *
 * <p>A dirty page is written back only after the WAL is durable up to the page's LSN
 * (write-ahead rule), so eviction asks {@code walSync} first. Map operations are synchronized on
 * the pool; a frame's bytes are guarded by the store's read/write lock, and eviction runs only
 * when no transaction holds frames (after a commit, or under the read lock).
 */
final class BufferPool {
    static final class Frame {
        final int pageNo;
        final byte[] data;
        boolean dirty;
        long lsn;

        Frame(int pageNo, byte[] data) {
            this.pageNo = pageNo;
            this.data = data;
        }
    }

    private final PageFile file;
    private final int capacity;
    private final LinkedHashMap<Integer, Frame> frames = new LinkedHashMap<>(1024, 0.75f, true);
    private long evictions;

    BufferPool(PageFile file, int capacityPages) {
        this.file = file;
        this.capacity = Math.max(64, capacityPages);
    }

    synchronized Frame frame(int pageNo) {
        Frame f = frames.get(pageNo);
        if (f == null) {
            f = new Frame(pageNo, file.read(pageNo));
            frames.put(pageNo, f);
        }
        return f;
    }

    /** Installs a page's full content (a new page, or a full-page image during replay). */
    synchronized Frame install(int pageNo, byte[] data) {
        Frame f = frames.get(pageNo);
        if (f == null) {
            f = new Frame(pageNo, data);
            frames.put(pageNo, f);
        } else {
            System.arraycopy(data, 0, f.data, 0, data.length);
        }
        return f;
    }

    synchronized void drop(int pageNo) {
        frames.remove(pageNo);
    }

    synchronized List<Frame> dirtyFrames() {
        List<Frame> out = new ArrayList<>();
        for (Frame f : frames.values()) {
            if (f.dirty) {
                out.add(f);
            }
        }
        return out;
    }

    synchronized int size() {
        return frames.size();
    }

    synchronized long evictions() {
        return evictions;
    }

    /**
     * Shrinks the pool to its capacity: clean frames first, then dirty ones (written back after
     * {@code walSync} made the WAL durable up to their LSN).
     */
    synchronized void evictIfNeeded(LongConsumer walSync) {
        if (frames.size() <= capacity) {
            return;
        }
        int target = capacity - capacity / 8;
        Iterator<Frame> it = frames.values().iterator();
        while (frames.size() > target && it.hasNext()) {
            Frame f = it.next();
            if (!f.dirty) {
                it.remove();
                evictions++;
            }
        }
        it = frames.values().iterator();
        while (frames.size() > target && it.hasNext()) {
            Frame f = it.next();
            walSync.accept(f.lsn);
            file.write(f.pageNo, f.data);
            f.dirty = false;
            it.remove();
            evictions++;
        }
    }
}
