package io.walship.wal;

import static io.walship.wal.PageFormat.HEADER_SIZE;
import static io.walship.wal.PageFormat.OFF_CONTENT_START;
import static io.walship.wal.PageFormat.OFF_COUNT;
import static io.walship.wal.PageFormat.OFF_FRAGMENTED;
import static io.walship.wal.PageFormat.OFF_LINK;
import static io.walship.wal.PageFormat.PAGE_SIZE;
import static io.walship.wal.PageFormat.getInt;
import static io.walship.wal.PageFormat.getShort;
import static io.walship.wal.PageFormat.putInt;
import static io.walship.wal.PageFormat.putShort;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Slotted-page operations on a B+tree node (see docs/FORMAT.md, "Leaf and internal pages").
 *
 * <p>Cells grow down from the end of the page, the slot array grows up after the header, so an
 * insert touches the header, a few slots and the new cell: that keeps the physical WAL small.
 * Leaf cell: u16 key length, u16 value length, key, value. Internal cell: u32 child, u16 key
 * length, key; an internal node's header link is its leftmost child. Stateless.
 */
final class Node {
    private Node() {
    }

    static int count(byte[] p) {
        return getShort(p, OFF_COUNT);
    }

    static int link(byte[] p) {
        return getInt(p, OFF_LINK);
    }

    static void setLink(byte[] p, int link) {
        putInt(p, OFF_LINK, link);
    }

    static int slot(byte[] p, int i) {
        return getShort(p, HEADER_SIZE + 2 * i);
    }

    static boolean isLeaf(byte[] p) {
        return PageFormat.type(p) == PageFormat.TYPE_LEAF;
    }

    // ---- cell accessors -------------------------------------------------------------------

    static int keyOffset(byte[] p, int cellOff) {
        return isLeaf(p) ? cellOff + 4 : cellOff + 6;
    }

    static int keyLength(byte[] p, int cellOff) {
        return isLeaf(p) ? getShort(p, cellOff) : getShort(p, cellOff + 4);
    }

    static byte[] key(byte[] p, int i) {
        int off = slot(p, i);
        int k = keyOffset(p, off);
        return Arrays.copyOfRange(p, k, k + keyLength(p, off));
    }

    static byte[] value(byte[] p, int i) {
        int off = slot(p, i);
        int klen = getShort(p, off);
        int vlen = getShort(p, off + 2);
        return Arrays.copyOfRange(p, off + 4 + klen, off + 4 + klen + vlen);
    }

    static int child(byte[] p, int i) {
        return getInt(p, slot(p, i));
    }

    static int cellSize(byte[] p, int cellOff) {
        return isLeaf(p) ? 4 + getShort(p, cellOff) + getShort(p, cellOff + 2) : 6 + getShort(p, cellOff + 4);
    }

    static byte[] leafCell(byte[] key, byte[] value) {
        byte[] c = new byte[4 + key.length + value.length];
        putShort(c, 0, key.length);
        putShort(c, 2, value.length);
        System.arraycopy(key, 0, c, 4, key.length);
        System.arraycopy(value, 0, c, 4 + key.length, value.length);
        return c;
    }

    static byte[] internalCell(int child, byte[] key) {
        byte[] c = new byte[6 + key.length];
        putInt(c, 0, child);
        putShort(c, 4, key.length);
        System.arraycopy(key, 0, c, 6, key.length);
        return c;
    }

    static byte[] cellKey(byte[] cell, boolean leaf) {
        return leaf ? Arrays.copyOfRange(cell, 4, 4 + getShort(cell, 0))
                : Arrays.copyOfRange(cell, 6, 6 + getShort(cell, 4));
    }

    // ---- search -------------------------------------------------------------------------

    static int compareKey(byte[] p, int i, byte[] key) {
        int off = slot(p, i);
        int k = keyOffset(p, off);
        return Arrays.compareUnsigned(p, k, k + keyLength(p, off), key, 0, key.length);
    }

    /** Index of {@code key} if present, else {@code -(insertion point) - 1}. */
    static int search(byte[] p, byte[] key) {
        int lo = 0;
        int hi = count(p) - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int c = compareKey(p, mid, key);
            if (c < 0) {
                lo = mid + 1;
            } else if (c > 0) {
                hi = mid - 1;
            } else {
                return mid;
            }
        }
        return -(lo + 1);
    }

    /** Internal node: index of the last separator {@code <= key}, or -1 for the leftmost link ({@code null} key too). */
    static int childIndex(byte[] p, byte[] key) {
        if (key == null) {
            return -1;
        }
        int i = search(p, key);
        return i >= 0 ? i : -i - 2;
    }

    /** Internal node: the child whose subtree holds {@code key} ({@code null} = leftmost). */
    static int childFor(byte[] p, byte[] key) {
        if (key == null) {
            return link(p);
        }
        int i = search(p, key);
        int idx = i >= 0 ? i : -i - 2; // last separator <= key
        return idx < 0 ? link(p) : child(p, idx);
    }

    // ---- modification -------------------------------------------------------------------

    static int freeSpace(byte[] p) {
        return getShort(p, OFF_CONTENT_START) - (HEADER_SIZE + 2 * count(p));
    }

    /** Inserts {@code cell} at slot {@code idx}; false if it does not fit even after compaction. */
    static boolean insert(byte[] p, int idx, byte[] cell) {
        int need = cell.length + 2;
        if (freeSpace(p) < need) {
            if (freeSpace(p) + getShort(p, OFF_FRAGMENTED) < need) {
                return false;
            }
            compact(p);
        }
        int n = count(p);
        int start = getShort(p, OFF_CONTENT_START) - cell.length;
        System.arraycopy(cell, 0, p, start, cell.length);
        int slotBase = HEADER_SIZE + 2 * idx;
        System.arraycopy(p, slotBase, p, slotBase + 2, 2 * (n - idx));
        putShort(p, slotBase, start);
        putShort(p, OFF_COUNT, n + 1);
        putShort(p, OFF_CONTENT_START, start);
        return true;
    }

    static void remove(byte[] p, int idx) {
        int n = count(p);
        int off = slot(p, idx);
        int size = cellSize(p, off);
        int slotBase = HEADER_SIZE + 2 * idx;
        System.arraycopy(p, slotBase + 2, p, slotBase, 2 * (n - idx - 1));
        putShort(p, HEADER_SIZE + 2 * (n - 1), 0);
        putShort(p, OFF_COUNT, n - 1);
        if (off == getShort(p, OFF_CONTENT_START)) {
            putShort(p, OFF_CONTENT_START, off + size);
        } else {
            putShort(p, OFF_FRAGMENTED, getShort(p, OFF_FRAGMENTED) + size);
        }
    }

    static List<byte[]> cells(byte[] p) {
        int n = count(p);
        List<byte[]> out = new ArrayList<>(n + 1);
        for (int i = 0; i < n; i++) {
            int off = slot(p, i);
            out.add(Arrays.copyOfRange(p, off, off + cellSize(p, off)));
        }
        return out;
    }

    /** Rewrites the node with exactly {@code cells}, packed, and the given link. */
    static void rebuild(byte[] p, byte type, int link, List<byte[]> cells) {
        PageFormat.init(p, type);
        setLink(p, link);
        for (int i = 0; i < cells.size(); i++) {
            if (!insert(p, i, cells.get(i))) {
                throw new IllegalStateException("rebuild overflow: " + cells.size() + " cells");
            }
        }
    }

    static void compact(byte[] p) {
        rebuild(p, PageFormat.type(p), link(p), cells(p));
    }

    /** Bytes the node's cells and slots take (fragments not counted). */
    static int used(byte[] p) {
        return PAGE_SIZE - getShort(p, OFF_CONTENT_START) - getShort(p, OFF_FRAGMENTED) + 2 * count(p);
    }

    /** Bytes a list of cells takes in a page, slots included. */
    static int used(List<byte[]> cells, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += cells.get(i).length + 2;
        }
        return sum;
    }

    static final int CAPACITY = PAGE_SIZE - HEADER_SIZE;
}
