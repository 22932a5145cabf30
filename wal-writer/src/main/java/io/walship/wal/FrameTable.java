package io.walship.wal;

import java.util.Objects;

/**
 * The buffer pool's frames by page number: an open-addressing table of {@code int} keys, so a
 * lookup on the writer's path neither boxes the page number nor walks a {@code HashMap} node
 * (issue 13: {@code BufferPool.lookup} through {@code HashMap<Integer, Frame>} was ~9 % of the
 * writer thread's samples).
 *
 * <p>Linear probing over a power-of-two array, the home slot from a Fibonacci hash of the key (the
 * high bits of {@code key * 0x9E3779B9}, so that consecutive page numbers spread). Removal shifts
 * the rest of the probe chain back (no tombstones), so a lookup stops at the first empty slot and
 * chains never grow from churn. At most half full: it doubles when more than half the slots are
 * taken and halves when fewer than an eighth are (down to {@link #MIN_CAPACITY}), so its memory
 * follows the number of frames held — at most 8 slots per frame — whatever the page numbers.
 *
 * <p>Not thread-safe: the pool uses it under its monitor. Null frames are not allowed (null marks
 * an empty slot).
 */
final class FrameTable {
    static final int MIN_CAPACITY = 16;
    private static final int GOLDEN = 0x9E3779B9;

    private int[] keys;
    private BufferPool.Frame[] frames;
    /** {@code 32 - log2(capacity)}: the hash's high bits are the home slot. */
    private int shift;
    private int size;

    FrameTable() {
        allocate(MIN_CAPACITY);
    }

    private void allocate(int capacity) {
        keys = new int[capacity];
        frames = new BufferPool.Frame[capacity];
        shift = 32 - Integer.numberOfTrailingZeros(capacity);
    }

    /** The home slot of {@code key} in a table of {@code capacity} slots (a power of two). */
    static int home(int key, int capacity) {
        return (key * GOLDEN) >>> (32 - Integer.numberOfTrailingZeros(capacity));
    }

    int size() {
        return size;
    }

    BufferPool.Frame get(int key) {
        int mask = keys.length - 1;
        for (int i = (key * GOLDEN) >>> shift; ; i = (i + 1) & mask) {
            BufferPool.Frame f = frames[i];
            if (f == null || keys[i] == key) {
                return f;
            }
        }
    }

    /** Maps {@code key} to {@code frame}; returns the frame it replaced, or null. */
    BufferPool.Frame put(int key, BufferPool.Frame frame) {
        Objects.requireNonNull(frame, "frame");
        int mask = keys.length - 1;
        int i = (key * GOLDEN) >>> shift;
        for (BufferPool.Frame f; (f = frames[i]) != null; i = (i + 1) & mask) {
            if (keys[i] == key) {
                frames[i] = frame;
                return f;
            }
        }
        keys[i] = key;
        frames[i] = frame;
        if (++size > keys.length >>> 1) {
            resize(keys.length << 1);
        }
        return null;
    }

    /** Removes {@code key}; returns its frame, or null if it had none. */
    BufferPool.Frame remove(int key) {
        int mask = keys.length - 1;
        int i = (key * GOLDEN) >>> shift;
        BufferPool.Frame removed;
        while (true) {
            removed = frames[i];
            if (removed == null) {
                return null;
            }
            if (keys[i] == key) {
                break;
            }
            i = (i + 1) & mask;
        }
        // backward shift: slot i is free; move back each later entry of the chain that may sit
        // there, i.e. whose home is not cyclically in (i, j]
        for (int j = (i + 1) & mask; frames[j] != null; j = (j + 1) & mask) {
            int home = (keys[j] * GOLDEN) >>> shift;
            if (((j - home) & mask) >= ((j - i) & mask)) {
                keys[i] = keys[j];
                frames[i] = frames[j];
                i = j;
            }
        }
        frames[i] = null;
        if (--size < keys.length >>> 3 && keys.length > MIN_CAPACITY) {
            resize(keys.length >>> 1);
        }
        return removed;
    }

    private void resize(int capacity) {
        int[] oldKeys = keys;
        BufferPool.Frame[] oldFrames = frames;
        allocate(capacity);
        int mask = capacity - 1;
        for (int s = 0; s < oldKeys.length; s++) {
            BufferPool.Frame f = oldFrames[s];
            if (f != null) {
                int i = (oldKeys[s] * GOLDEN) >>> shift;
                while (frames[i] != null) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[s];
                frames[i] = f;
            }
        }
    }

    // ---- for tests ----------------------------------------------------------------------------

    int capacity() {
        return keys.length;
    }

    /** The slot holding {@code key}, or -1. */
    int slot(int key) {
        int mask = keys.length - 1;
        for (int i = (key * GOLDEN) >>> shift; frames[i] != null; i = (i + 1) & mask) {
            if (keys[i] == key) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Every entry is reachable from its home slot without crossing an empty slot, keys are
     * distinct, the count matches and the load is within bounds.
     */
    void checkInvariants() {
        int mask = keys.length - 1;
        int n = 0;
        for (int s = 0; s < keys.length; s++) {
            if (frames[s] == null) {
                continue;
            }
            n++;
            for (int i = (keys[s] * GOLDEN) >>> shift; i != s; i = (i + 1) & mask) {
                if (frames[i] == null) {
                    throw new AssertionError("key " + keys[s] + " at slot " + s + " is cut off from its home by the"
                            + " empty slot " + i);
                }
                if (keys[i] == keys[s]) {
                    throw new AssertionError("key " + keys[s] + " at slots " + i + " and " + s);
                }
            }
        }
        if (n != size) {
            throw new AssertionError(n + " entries, size " + size);
        }
        if (size > keys.length >>> 1 || keys.length > MIN_CAPACITY && size < keys.length >>> 3) {
            throw new AssertionError(size + " entries in " + keys.length + " slots");
        }
    }
}
